"""An alert's hits as plain data and as text, shared by the webhook and email channels."""

from __future__ import annotations

from typing import Any

from search.alerts.deliver import DeliveryPolicy, link
from search.alerts.records import Alert, AlertHit
from search.alerts.store import why_to_dict


def hit_to_dict(hit: AlertHit, policy: DeliveryPolicy) -> dict[str, Any]:
    return {
        "paragraph_id": hit.paragraph_id, "article_id": hit.article_id, "title": hit.title,
        "lang": hit.lang, "score": hit.score, "text": hit.text, "generation": hit.generation,
        "found": hit.found, "url": hit.url, "link": link(policy, hit.paragraph_id),
        "why": why_to_dict(hit.why), "why_text": hit.why.summary(),
        "translations": [{"paragraph_id": t.paragraph_id, "lang": t.lang, "title": t.title,
                          "generation": t.generation, "link": link(policy, t.paragraph_id),
                          "why": why_to_dict(t.why)} for t in hit.translations],
    }


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    """An alert as the API shows it (its webhook secret is shown once, when it is made)."""
    return {"name": alert.name, "kind": alert.kind.value, "text": alert.text,
            "mode": alert.mode.value, "languages": list(alert.filters.languages),
            "sources": list(alert.filters.sources), "created": alert.created,
            "feed": f"/alerts/feed/{alert.feed_token}.atom",
            "webhook_url": alert.webhook_url, "email": alert.email}


def hits_text(alert: Alert, hits: tuple[AlertHit, ...], policy: DeliveryPolicy) -> str:
    """The hits as a plain-text message."""
    lines = [f"Alert {alert.name!r} ({alert.text}): {len(hits)} new", ""]
    for hit in hits:
        lines += [f"[{hit.lang}] {hit.title}", f"  {hit.text}", f"  why: {hit.why.summary()}",
                  f"  {link(policy, hit.paragraph_id)}"]
        lines += [f"  also in {t.lang}: {link(policy, t.paragraph_id)}"
                  for t in hit.translations]
        lines.append("")
    return "\n".join(lines)
