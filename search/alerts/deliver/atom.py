"""An alert's Atom feed (RFC 4287), rendered from its stored hits when read.

Each hit is one entry, its id fixed by the hit, so a feed reader never sees a story twice;
a translation that arrives later is added to its story's entry (which is then updated).
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from search.alerts.deliver import DeliveryPolicy, link
from search.alerts.records import Alert, AlertHit


def _entry(alert: Alert, hit: AlertHit, policy: DeliveryPolicy) -> str:
    updated = max([hit.found] + [t.found for t in hit.translations])
    also = "".join(f"<li>also in {escape(t.lang)}: <a href=\"{escape(link(policy, t.paragraph_id))}"
                   f"\">{escape(t.title)}</a> ({escape(t.why.summary() or 'same story')})</li>"
                   for t in hit.translations)
    content = (f"<p>{escape(hit.text)}</p><p>why: {escape(hit.why.summary())}</p>"
               + (f"<ul>{also}</ul>" if also else ""))
    categories = "".join(f'<category term="{escape(lang)}"/>' for lang in
                         dict.fromkeys([hit.lang, *(t.lang for t in hit.translations)]))
    return (f"<entry><id>urn:search-alert:{alert.feed_token}:{hit.id}</id>"
            f"<title>{escape(f'[{hit.lang}] {hit.title}')}</title><updated>{updated}</updated>"
            f"<link rel=\"alternate\" href=\"{escape(link(policy, hit.paragraph_id))}\"/>"
            f"{categories}<summary>{escape(hit.why.summary())}</summary>"
            f"<content type=\"html\">{escape(content)}</content></entry>")


def feed(alert: Alert, hits: list[AlertHit], policy: DeliveryPolicy) -> str:
    """The feed's XML: the alert's latest hits, newest first."""
    updated = max((h.found for h in hits), default=alert.created)
    self_url = f"{policy.base_url}/alerts/feed/{alert.feed_token}.atom"
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<feed xmlns="http://www.w3.org/2005/Atom">'
            f"<id>urn:search-alert:{alert.feed_token}</id>"
            f"<title>{escape(f'Alert: {alert.name}')}</title>"
            f"<subtitle>{escape(alert.text)}</subtitle><updated>{updated}</updated>"
            f"<author><name>search</name></author>"
            f"<link rel=\"self\" href=\"{escape(self_url)}\"/>"
            + "".join(_entry(alert, h, policy) for h in hits) + "</feed>")
