"""Webhook delivery: a JSON POST signed with HMAC-SHA256 of the body and the alert's secret.

The receiver checks `X-Search-Signature: sha256=<hex>` against its copy of the secret (shown
once, when the alert is made) before trusting the body, as GitHub's webhooks are checked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request

from search.alerts.deliver import DeliveryFailed, DeliveryPolicy
from search.alerts.deliver.payload import alert_to_dict, hit_to_dict
from search.alerts.records import Delivery

SIGNATURE_HEADER = "X-Search-Signature"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send(delivery: Delivery, policy: DeliveryPolicy) -> None:
    alert = delivery.alert
    if not alert.webhook_url or not alert.webhook_secret:
        raise DeliveryFailed("the alert has no webhook any more", permanent=True)
    body = json.dumps({"alert": alert_to_dict(alert), "generation": delivery.generation,
                       "hits": [hit_to_dict(h, policy) for h in delivery.hits]},
                      ensure_ascii=False).encode()
    request = urllib.request.Request(alert.webhook_url, data=body, method="POST", headers={
        "Content-Type": "application/json", SIGNATURE_HEADER: signature(alert.webhook_secret,
                                                                         body)})
    try:
        with urllib.request.urlopen(request, timeout=policy.timeout) as response:
            response.read(1024)
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"{alert.webhook_url} answered {exc.code} {exc.reason}",
                             permanent=400 <= exc.code < 500 and exc.code not in (408, 429)
                             ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryFailed(f"{alert.webhook_url} unreachable: {reason}") from None
