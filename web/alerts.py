"""Alerts on the web: the JSON API under /api/alerts, the alerts page, "watch this search",
and each alert's Atom feed at its unguessable URL.

Creating, changing and removing alerts is allowed to the callers that may reindex (this
machine, or a bearer token: api.authorize_reindex); the page's forms also carry a CSRF token
tied to the browser's session. The feed is public to whoever has its URL, as feed readers
need. On its first request each process also catches up what a killed `search index` left:
evaluation and pending deliveries (search.alerts.watch), in a background thread.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response as WerkzeugResponse

from search.alerts import (
    Alert,
    AlertKind,
    AlertStore,
    add_alert,
    after_publish,
    alert_hits,
    list_alerts,
    remove_alert,
)
from search.alerts.deliver import DeliveryPolicy
from search.alerts.deliver.atom import feed
from search.alerts.deliver.payload import alert_to_dict, hit_to_dict
from search.errors import InvalidAlert
from search.ranking.query import Mode
from search.records import Filters

from .api import authorize_reindex
from .services import get_services

bp = Blueprint("alerts", __name__)
_CSRF = "alerts_csrf"
_caught_up = threading.Lock()


@bp.record_once
def _configure(state: BlueprintSetupState) -> None:
    app = state.app
    if not app.secret_key:  # one per server: the workers are forked after this
        app.secret_key = secrets.token_hex(32)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)


@bp.app_context_processor
def _csrf_field() -> dict[str, Any]:
    return {"alert_csrf": csrf_token}


def csrf_token() -> str:
    if _CSRF not in session:
        session[_CSRF] = secrets.token_urlsafe(24)
    return str(session[_CSRF])


def _check_csrf() -> None:
    expected = session.get(_CSRF)
    given = request.form.get("csrf", "")
    if not expected or not hmac.compare_digest(str(expected).encode(), given.encode()):
        abort(403, "the form has expired or did not come from this site: reload it and retry")


@bp.before_app_request
def _catch_up() -> None:
    """Once per process: evaluate what is unevaluated and send what is pending."""
    with _caught_up:
        started = current_app.extensions.setdefault("alerts-caught-up", set())
        if os.getpid() in started:
            return
        started.add(os.getpid())
    found = get_services()
    index_dir = found.engine.index_dir
    if not AlertStore.exists(index_dir):
        return
    threading.Thread(target=after_publish, name="alerts-catch-up", daemon=True, args=(
        index_dir, found.engine.backend, found.settings, found.engine.encoder)).start()


def _policy() -> DeliveryPolicy:
    policy = DeliveryPolicy.from_environ()
    return policy if "SEARCH_BASE_URL" in os.environ else \
        DeliveryPolicy(policy.timeout, policy.attempts, policy.backoff, policy.budget,
                       request.host_url.rstrip("/"), policy.mail)


# -- JSON API ---------------------------------------------------------------------------
@bp.get("/api/alerts")
def api_list() -> Response:
    return jsonify(alerts=[alert_to_dict(a) for a in list_alerts(get_services().engine.index_dir)])


@bp.post("/api/alerts")
def api_create() -> tuple[Response, int]:
    authorize_reindex()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidAlert("send the alert as a JSON object: {\"name\": ..., \"text\": ...}")
    made = _create(data)
    body = alert_to_dict(made)
    if made.webhook_secret:
        body["webhook_secret"] = made.webhook_secret  # shown this once
    return jsonify(body), 201


@bp.get("/api/alerts/<name>")
def api_show(name: str) -> Response:
    alert, hits = alert_hits(get_services().engine.index_dir, name, _limit())
    policy = _policy()
    return jsonify(alert=alert_to_dict(alert), hits=[hit_to_dict(h, policy) for h in hits])


@bp.patch("/api/alerts/<name>")
def api_change(name: str) -> Response:
    authorize_reindex()
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not set(data) <= {"webhook_url", "email", "text"}:
        raise InvalidAlert("send a JSON object with any of webhook_url, email and text")
    with AlertStore(get_services().engine.index_dir) as store:
        changed = store.update(name, *(_text(data, key) for key in ("webhook_url", "email",
                                                                    "text")))
    return jsonify(alert_to_dict(changed))


@bp.delete("/api/alerts/<name>")
def api_remove(name: str) -> tuple[str, int]:
    authorize_reindex()
    remove_alert(get_services().engine.index_dir, name)
    return "", 204


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidAlert(f"{key} must be a string")
    return value


def _strings(data: dict[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidAlert(f"{key} must be a list of strings")
    return tuple(value)


def _create(data: dict[str, Any]) -> Alert:
    try:
        kind = AlertKind(data.get("kind", AlertKind.QUERY.value))
        mode = Mode(data.get("mode", Mode.HYBRID.value))
    except ValueError as exc:
        raise InvalidAlert(f"{exc}: kind is query or watchlist, mode one of "
                           f"{', '.join(m.value for m in Mode)}") from None
    return add_alert(get_services().engine.index_dir, _text(data, "name") or "",
                     _text(data, "text") or "", kind, mode,
                     Filters(languages=_strings(data, "languages"),
                             sources=_strings(data, "sources")),
                     _text(data, "webhook_url"), _text(data, "email"), get_services().settings)


def _limit() -> int:
    try:
        return min(max(int(request.args.get("size", 20)), 1), 100)
    except ValueError:
        raise InvalidAlert("size must be a number from 1 to 100") from None


# -- pages and the feed ---------------------------------------------------------------------
@bp.get("/alerts")
def page() -> str:
    index_dir = get_services().engine.index_dir
    alerts = list_alerts(index_dir)
    latest = {a.name: alert_hits(index_dir, a.name, 5)[1] for a in alerts}
    return render_template("alerts.html", alerts=alerts, latest=latest, modes=list(Mode),
                           created=request.args.get("created"))


@bp.post("/alerts")
def create() -> WerkzeugResponse:
    authorize_reindex()
    _check_csrf()
    form = request.form
    text = form.get("q", "").strip()
    name = form.get("name", "").strip() or _free_name(text)
    made = _create({
        "name": name, "text": text, "mode": form.get("mode", Mode.HYBRID.value),
        "kind": AlertKind.WATCHLIST.value if form.get("watchlist") else AlertKind.QUERY.value,
        "languages": form.getlist("lang"), "webhook_url": form.get("webhook") or None,
        "email": form.get("email") or None})
    return redirect(url_for("alerts.page", created=made.name), code=303)


def _free_name(text: str) -> str:
    taken = {a.name for a in list_alerts(get_services().engine.index_dir)}
    base = text[:60] or "alert"
    return next(name for name in (base, *(f"{base} ({n})" for n in range(2, 1000)))
                if name not in taken)


@bp.post("/alerts/<name>/delete")
def delete(name: str) -> WerkzeugResponse:
    authorize_reindex()
    _check_csrf()
    remove_alert(get_services().engine.index_dir, name)
    return redirect(url_for("alerts.page"), code=303)


@bp.get("/alerts/feed/<token>.atom")
def atom(token: str) -> Response:
    with AlertStore(get_services().engine.index_dir, writable=False) as store:
        alert = store.by_feed(token)
        hits = store.hits(alert.id, 50)
    return Response(feed(alert, hits, _policy()), mimetype="application/atom+xml")
