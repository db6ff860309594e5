"""The `search` command: index seeds, query, inspect and serve an index.

Longer than most modules because each command's options are its interface and read best
beside its body; shared options are in search/cli_common.py, command groups with a package of
their own (alerts, batch search) in search/cli_alerts.py and search/cli_investigate.py."""

from __future__ import annotations

import html
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click
import regex

from search.backends import names as backend_names
from search.cli_alerts import alert
from search.cli_common import fail_cleanly, index_option
from search.cli_investigate import batch
from search.config import DEFAULT_MODEL, BundledModel, Settings
from search.encoders.precision import PRECISION_CHOICES
from search.printable import printable
from search.progress import ProgressBars
from search.ranking.fusion import FusionMethod
from search.ranking.ordering import Collapse, Sort
from search.ranking.query import Mode, Query, choices
from search.records import Filters

if TYPE_CHECKING:

    from search.encoders.base import Embed
    from search.results import Hit

_MARK = regex.compile(r"<mark>(.*?)</mark>", regex.S)

def precision_option(command: Callable) -> Callable:
    return click.option(
        "--precision", type=click.Choice(PRECISION_CHOICES), default="auto", show_default=True,
        help="Arithmetic of the default model: auto (fp32 for batches; one query in int8 "
             "where the CPU has VNNI), fp32, bf16 or int8 (VNNI only).",
    )(command)


@click.group()
@click.version_option(package_name="polyglot-search")
def main() -> None:
    """Multilingual hybrid search over news articles (keywords + meaning, fused)."""


@main.command()
@click.option("--seeds", "seeds_dir", type=click.Path(path_type=Path), default=Path("seeds"),
              show_default=True, help="Folder of articles (.txt .md .html .json .jsonl).")
@index_option
@click.option("--model", default=None,
              help=f"Embedding model: {' or '.join(repr(m.value) for m in BundledModel)} "
                   "(bundled) or a sentence-transformers folder/name. Default: the index's "
                   f"own model, or {DEFAULT_MODEL!r} for a new index.")
@click.option("--rebuild", is_flag=True, help="Start from scratch instead of updating.")
@click.option("--allow-removal", is_flag=True,
              help="Remove the articles of missing files even when they are all, or more "
                   "than half, of the index (refused otherwise: a wrong --seeds looks so).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--backend", type=click.Choice(backend_names()), default=None,
              help="Where a new index lives: local (Whoosh + FAISS in the index folder, the "
                   "default) or qdrant. An existing index keeps its own.")
@click.option("--qdrant", "qdrant_location", metavar="LOCATION",
              help="With --backend qdrant: a Qdrant server's http(s) URL (API key from "
                   "QDRANT_API_KEY) or a folder for Qdrant's local mode (default: "
                   "INDEX/qdrant).")
@click.option("--qdrant-collection", "qdrant_name", metavar="NAME",
              help="With --backend qdrant: the name of the index's collections, for several "
                   "indexes on one server (default: search).")
@click.option("--ray", "ray_address", is_flag=False, flag_value="", default=None,
              metavar="[ADDRESS]",
              help="Embed the new paragraphs on Ray: the cluster at ADDRESS, or without one a "
                   "local Ray on this machine's cores (needs the scale extra).")
@precision_option
@fail_cleanly
def index(seeds_dir: Path, index_dir: Path, model: str | None, rebuild: bool,
          allow_removal: bool, as_json: bool,
          backend: str | None, qdrant_location: str | None, qdrant_name: str | None,
          ray_address: str | None, precision: str) -> None:
    """Index new, changed and removed articles from seeds/ into a new generation.

    Readers keep answering from the previous generation until the new one is complete.

    Example: search index --seeds seeds --index indexes
    """
    from search.encoders.loading import load_encoder
    from search.index.model_choice import choose_model
    from search.index.updater import update_index

    choice = choose_model(index_dir, model, rebuild)
    if choice.note:
        click.echo(f"note: {choice.note}", err=True)
    settings = Settings(model=choice.model, precision=precision)
    if (qdrant_location or qdrant_name) and backend != "qdrant":
        raise click.UsageError("--qdrant and --qdrant-collection go with --backend qdrant")
    options: dict[str, str] = {}
    if qdrant_location:
        options["location"] = _qdrant_location(qdrant_location)
    if qdrant_name:
        options["name"] = qdrant_name
    with _ray_embedding(settings.model, settings, ray_address) as embed, \
            ProgressBars(enabled=not as_json) as progress:
        summary = update_index(
            seeds_dir, index_dir, settings,
            lambda: load_encoder(settings.model, settings.threads, precision=precision),
            rebuild=rebuild, progress=progress, embed=embed, backend=backend,
            backend_options=options or None, allow_removal=allow_removal,
        )
    for problem in summary.problems:
        click.echo(printable(f"skipped {problem.path}: {problem.reason}"), err=True)
    for warning in summary.warnings:
        click.echo(printable(f"warning: {warning}"), err=True)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(
        f"articles: {summary.added} added, {summary.changed} changed, {summary.removed} removed,"
        f" {summary.unchanged} unchanged; {summary.skipped} files skipped"
        f"{f', {summary.records_skipped} records skipped' if summary.records_skipped else ''}\n"
        f"paragraphs: {summary.paragraphs_added} added, {summary.paragraphs_removed} removed,"
        f" {summary.paragraphs_embedded} embedded\n"
        f"generation {summary.generation} in {summary.seconds:.1f} s"
        f" ({summary.paragraphs_per_second:.0f} paragraphs/s)"
    )


@contextmanager
def _ray_embedding(model: str, settings: Settings, address: str | None) -> Iterator[Embed | None]:
    """What --ray asks for: None without it, else a RayEmbedding (a local Ray for address "")
    that is stopped afterwards."""
    if address is None:
        yield None
        return
    from search.encoders.ray_embedding import RayEmbedding, RayOptions

    options = RayOptions(address=address or None, batch_size=settings.batch_size,
                         model_cache=settings.model_cache)
    with RayEmbedding(model, options) as embed:
        yield embed


def _qdrant_location(location: str) -> str:
    """A URL as given; a folder made absolute, so that the index folder's record of it holds
    from any working directory."""
    if location.startswith(("http://", "https://")):
        return location
    return str(Path(location).expanduser().resolve())


@main.command()
@click.argument("text")
@index_option
@click.option("--mode", type=click.Choice(choices(Mode)), default=Mode.HYBRID.value,
              show_default=True)
@click.option("--lang", "languages", multiple=True,
              help="Only paragraphs in this language (repeatable).")
@click.option("--query-lang", help="The query's language, if detection gets it wrong.")
@click.option("-k", "--limit", default=10, show_default=True, help="Results to show.")
@click.option("--page", default=1, show_default=True)
@click.option("--fusion", type=click.Choice(choices(FusionMethod)), help="Hybrid fusion method.")
@click.option("--alpha", type=float, help="Semantic weight in hybrid fusion, 0..1.")
@click.option("--one-per-article", is_flag=True, help="Show only the best paragraph of each.")
@click.option("--sort", type=click.Choice(choices(Sort)), default=Sort.RELEVANCE.value,
              show_default=True, help="date: newest article first, undated last.")
@click.option("--recency", type=float, metavar="DAYS",
              help="Boost recent articles: scores halve every DAYS days of age.")
@click.option("--collapse", type=click.Choice(choices(Collapse)),
              default=Collapse.TRANSLATIONS.value, show_default=True,
              help="translations: each story once, its other languages listed under it.")
@click.option("--model", help="Fail unless the index was built with this model.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON the search API returns.")
@click.option("--format", "export_format", type=click.Choice(["csv", "jsonl"]),
              help="Print the matches as CSV or JSON Lines (with --all, every one).")
@click.option("--all", "every", is_flag=True,
              help="With --format: every match, up to 100,000 (the output says if cut).")
@precision_option
@fail_cleanly
def query(text: str, index_dir: Path, mode: str, languages: tuple[str, ...],
          query_lang: str | None, limit: int, page: int, fusion: str | None,
          alpha: float | None, one_per_article: bool, sort: str, recency: float | None,
          collapse: str, model: str | None, as_json: bool, export_format: str | None,
          every: bool, precision: str) -> None:
    """Search the index and print the matching paragraphs, best first.

    A paragraph matches when it holds at least half the query's words or is close enough
    in meaning; when none does, the command says "no matches" and shows the closest
    paragraphs, labelled as such.

    Example: search query "Istanbul talks prisoner exchange" --sort date --recency 30 -k 5
    """
    from search.engine import Engine
    from search.serialize import page_to_dict

    if every and not export_format:
        raise click.UsageError("--all goes with --format csv or --format jsonl")
    asked = Query(text=text, mode=Mode(mode), lang=query_lang,
                  filters=Filters(languages=languages), page=page, size=limit, fusion=fusion,
                  alpha=alpha, one_per_article=one_per_article, sort=sort, recency=recency,
                  collapse=collapse)
    if export_format:
        from search.cli_investigate import export_query

        export_query(asked, index_dir, export_format, every, Settings(precision=precision))
        return
    engine = Engine(index_dir, Settings(precision=precision), model=model).open()
    try:
        if mode != Mode.KEYWORD.value:
            engine.encoder()  # load the model first, so that took_ms is the query's own time
        result = engine.search(asked)
    finally:
        engine.close()
    if as_json:
        click.echo(json.dumps(page_to_dict(result), ensure_ascii=False, indent=2))
        return
    q = result.query
    where = f"({q.mode.value}, query language {q.lang}) in {result.took_ms:.0f} ms"
    if result.total == 0:
        click.echo(f"no matches for {q.text!r} {where}", err=True)
        if result.closest:
            click.echo("closest paragraphs (not matches):")
            _print_hits(result.closest, 1)
        return
    at_least = "at least " if result.total_relation == "gte" else ""
    # The listing is the ranking: the matches, and weaker candidates where it puts them.
    once = ", each story once" if q.collapse.value == "translations" else ""
    if q.one_per_article:
        once += ", each article once"
    click.echo(f"{at_least}{_count(result.total, 'match', 'matches')} for {q.text!r} {where}; "
               f"{_count(result.listed, 'result')} listed{once}", err=True)
    _print_hits(result.hits, (page - 1) * limit + 1)


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _print_hits(hits: list[Hit], first: int) -> None:
    for rank, hit in enumerate(hits, start=first):
        e = hit.explain
        why = f"kw #{e.keyword_rank or '-'} sem #{e.semantic_rank or '-'}"
        dated = f"  {hit.date}" if hit.date else ""
        click.echo(click.style(f"{rank:>3}. [{hit.lang}] {hit.title}", bold=True)
                   + f"{dated}  {hit.paragraph_id}  score {hit.score:.3f} ({why})")
        click.echo("     " + _terminal_text(hit.snippet))
        if hit.translations:
            click.echo("     also in: " + " ".join(
                f"{t.lang} ({t.paragraph_id})" for t in hit.translations))


def _terminal_text(marked_html: str) -> str:
    marked = _MARK.sub(lambda m: click.style(m.group(1), fg="yellow", bold=True), marked_html)
    return html.unescape(marked)


@main.command()
@index_option
@click.option("--json", "as_json", is_flag=True)
@fail_cleanly
def stats(index_dir: Path, as_json: bool) -> None:
    """Show what the index holds: generation, model, articles, paragraphs, languages.

    Example: search stats --index indexes
    """
    from search.engine import Engine
    from search.serialize import stats_to_dict

    engine = Engine(index_dir).open()
    try:
        info = engine.stats()
    finally:
        engine.close()
    if as_json:
        click.echo(json.dumps(stats_to_dict(info), ensure_ascii=False, indent=2))
        return
    languages = ", ".join(f"{code} {count}" for code, count in info.languages.items())
    click.echo(
        f"index       {info.index_dir}\ngeneration  {info.generation} ({info.created})\n"
        f"model       {info.model} ({info.dim}-d, {info.precision}, "
        f"{'approximate HNSW' if info.approximate else 'exact'} vector search)\n"
        f"articles    {info.articles}\nparagraphs  {info.paragraphs}\nlanguages   {languages}"
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0: any free port).")
@index_option
@click.option("--seeds", "seeds_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("seeds"), show_default=True,
              help="Folder that POST /api/reindex and --watch index from.")
@click.option("--watch", is_flag=True,
              help="Poll the seeds folder every 2 s and re-index when files change.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Processes answering requests in parallel, sharing the loaded index and "
                   "model  [default: one per core available]")
@click.option("--threads", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Threads answering requests in each worker process.")
@precision_option
@fail_cleanly
def serve(host: str, port: int, index_dir: Path, seeds_dir: Path, watch: bool,
          workers: int | None, threads: int, precision: str) -> None:
    """Serve the search page and the JSON API (waitress, a production WSGI server).

    The index and the model are loaded before the first request is accepted. Set
    SEARCH_REINDEX_TOKEN to allow POST /api/reindex from other machines with that bearer
    token; without it, only local callers may re-index.

    Example: search serve --watch --port 8000
    """
    from web.serving import serve_app

    serve_app(index_dir, seeds_dir, host, port, watch, workers, threads, precision, click.echo)


@main.command()
@index_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@fail_cleanly
def check(index_dir: Path, as_json: bool) -> None:
    """Verify that the manifest, paragraphs, vectors, keyword index and graph agree.

    Prints one OK line and exits 0 when they do; otherwise lists each difference and exits 1
    (the fix is `search index --rebuild`). Reads only and never loads the model.

    Example: search check --index indexes
    """
    from dataclasses import asdict

    from search.backends import open_backend

    report = open_backend(index_dir).check()
    if as_json:
        click.echo(json.dumps({"ok": report.ok, **asdict(report)}, ensure_ascii=False, indent=2))
    elif report.ok:
        graph = f", graph of {report.graph_vectors}" if report.graph_vectors is not None else ""
        click.echo(
            f"OK {report.index_dir} {report.generation}: {report.articles} articles, "
            f"{report.paragraphs} paragraphs in keyword index and vectors{graph} "
            f"({report.model}, {report.dim}-d)"
        )
    else:
        click.echo(f"{report.index_dir} ({report.generation or 'no generation'}): "
                   f"{len(report.problems)} problem(s); run `search index --rebuild`")
        for problem in report.problems:
            click.echo(f"  - {problem}")
    if not report.ok:
        sys.exit(1)


main.add_command(alert)
main.add_command(batch)

if __name__ == "__main__":
    main()
