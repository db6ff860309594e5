"""`search alert`: saved searches that watch every new article (search/alerts/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

import click

from search.alerts.records import Alert, AlertHit, AlertKind
from search.cli_common import fail_cleanly, index_option
from search.config import Settings
from search.ranking.query import Mode
from search.records import Filters


@click.group()
def alert() -> None:
    """Saved searches evaluated on every new generation, in every language.

    Each `search index` (and `search serve`'s reindexing) evaluates every alert against the
    paragraphs it added; hits go to the alert's Atom feed (`search serve` shows it), and to
    its webhook or email address if it has one.

    Example: search alert add "prisoner exchange talks Istanbul" --name talks
    """


@alert.command()
@click.argument("text", required=False)
@click.option("--name", required=True, help="The alert's name (unique in the index).")
@index_option
@click.option("--watchlist", type=click.File("r", encoding="utf-8"),
              help="A file of names or terms, one per line ('-': standard input), each matched "
                   "as a keyword query, across scripts and with typos forgiven; instead of TEXT.")
@click.option("--mode", type=click.Choice([m.value for m in Mode]), default=Mode.HYBRID.value,
              show_default=True, help="How a query alert matches, as `search query`.")
@click.option("--lang", "languages", multiple=True,
              help="Only paragraphs in this language (repeatable).")
@click.option("--source", "sources", multiple=True, help="Only articles from this source.")
@click.option("--webhook", help="POST each generation's hits as JSON to this URL (signed).")
@click.option("--email", help="Mail each generation's hits to this address (SEARCH_SMTP_*).")
@fail_cleanly
def add(text: str | None, name: str, index_dir: Path, watchlist: TextIO | None, mode: str,
        languages: tuple[str, ...], sources: tuple[str, ...], webhook: str | None,
        email: str | None) -> None:
    """Save a search that watches what is indexed from now on.

    Example: search alert add "prisoner exchange talks Istanbul" --name talks
    """
    from search.alerts import add_alert

    if (text is None) == (watchlist is None):
        raise click.UsageError("give the query as TEXT or a --watchlist file, not both")
    kind = AlertKind.WATCHLIST if watchlist is not None else AlertKind.QUERY
    made = add_alert(index_dir, name, watchlist.read() if watchlist is not None else str(text),
                     kind, Mode(mode), Filters(languages=languages, sources=sources),
                     webhook, email)
    click.echo(f"alert {made.name!r} added; its feed: /alerts/feed/{made.feed_token}.atom "
               "(on `search serve`)")
    if made.webhook_secret:
        click.echo(f"webhook secret (shown once; checks X-Search-Signature): "
                   f"{made.webhook_secret}")


@alert.command(name="list")
@index_option
@click.option("--json", "as_json", is_flag=True, help="Print the alerts as JSON.")
@fail_cleanly
def list_(index_dir: Path, as_json: bool) -> None:
    """List the index's alerts.

    Example: search alert list
    """
    from search.alerts import list_alerts
    from search.alerts.deliver.payload import alert_to_dict

    alerts = list_alerts(index_dir)
    if as_json:
        click.echo(json.dumps([alert_to_dict(a) for a in alerts], ensure_ascii=False, indent=2))
        return
    if not alerts:
        click.echo("no alerts: `search alert add` makes one", err=True)
    for a in alerts:
        click.echo(_describe(a))


def _describe(a: Alert) -> str:
    where = "".join(f", {c.value}" for c in a.channels)
    lines = a.entries
    what = f"{len(lines)} names" if a.kind is AlertKind.WATCHLIST else repr(a.text)
    return f"{a.name}: {what} ({a.kind.value}, {a.mode.value}{where}) since {a.created}"


@alert.command()
@click.argument("name")
@index_option
@click.option("-k", "--limit", default=10, show_default=True, help="Hits to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the hits as JSON.")
@fail_cleanly
def show(name: str, index_dir: Path, limit: int, as_json: bool) -> None:
    """Show an alert's latest hits, why each fired, and their translations.

    Example: search alert show talks
    """
    from search.alerts import alert_hits
    from search.alerts.deliver import DeliveryPolicy
    from search.alerts.deliver.payload import alert_to_dict, hit_to_dict

    found, hits = alert_hits(index_dir, name, limit)
    if as_json:
        policy = DeliveryPolicy.from_environ()
        click.echo(json.dumps({"alert": alert_to_dict(found),
                               "hits": [hit_to_dict(h, policy) for h in hits]},
                              ensure_ascii=False, indent=2))
        return
    click.echo(_describe(found))
    click.echo(f"feed: /alerts/feed/{found.feed_token}.atom")
    if not hits:
        click.echo("no hits yet", err=True)
    for hit in hits:
        _print_hit(hit)


def _print_hit(hit: AlertHit) -> None:
    click.echo(f"\n[{hit.lang}] {hit.paragraph_id}  score {hit.score:.2f}  "
               f"({hit.generation}, {hit.found})")
    click.echo(f"    {hit.title}")
    click.echo(f"    {hit.text}")
    click.echo(f"    why: {hit.why.summary()}")
    for t in hit.translations:
        why = t.why.summary() or "the same story"
        click.echo(f"    also in {t.lang}: {t.paragraph_id} ({t.generation}; {why})")


@alert.command()
@click.argument("name")
@index_option
@fail_cleanly
def rm(name: str, index_dir: Path) -> None:
    """Remove an alert with its hits.

    Example: search alert rm talks
    """
    from search.alerts import remove_alert

    remove_alert(index_dir, name)
    click.echo(f"alert {name!r} removed")


@alert.command()
@click.argument("name")
@index_option
@click.option("--last", default=5000, show_default=True,
              help="How many of the newest paragraphs to try it on.")
@click.option("-k", "--limit", default=10, show_default=True, help="Matches to show.")
@fail_cleanly
def test(name: str, index_dir: Path, last: int, limit: int) -> None:
    """Try an alert on the paragraphs already indexed, recording and sending nothing.

    Example: search alert test talks
    """
    from search.alerts import paragraph_ids, try_alert
    from search.encoders.loading import load_encoder
    from search.engine import Engine

    engine = Engine(index_dir, Settings()).open()
    try:
        model = engine.stats().model
    finally:
        engine.close()
    matches = try_alert(index_dir, name, lambda: load_encoder(model, 1), last=last)
    best = sorted(matches, key=lambda m: (-m.score, m.pid))[:limit]
    click.echo(f"{len(matches)} of the newest {last} paragraphs would fire {name!r}", err=True)
    for match, paragraph_id in zip(best, paragraph_ids(index_dir, [m.pid for m in best]),
                                   strict=True):
        click.echo(f"{match.score:.2f} {paragraph_id}: {match.why.summary()}")
