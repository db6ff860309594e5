"""Batch search on the web: a page to upload a list and read its results (with CSV and
JSON downloads), and POST /api/batch. Who may call it and how much: see batch_jobs.py."""

from __future__ import annotations

from pathlib import Path
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
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from search.errors import InvalidQuery
from search.investigate.batch import results_csv, results_json
from search.investigate.batch_input import (
    BATCH_LIMIT,
    BatchInput,
    InputFormat,
    guess_format,
    read_batch,
    read_items,
)
from search.ranking.query import Mode

from .batch_jobs import BatchesBusy, BatchJob, BatchRunner
from .jobs import JobStatus
from .services import get_services
from .shared_batches import SharedBatchStore

bp = Blueprint("investigate", __name__)

# The largest batch body (a CSV of 10,000 names with options fits in about 1 MB).
BATCH_MAX_BYTES = 2 * 1024 * 1024
MODE_LABELS = {Mode.KEYWORD: "Keyword (names, exact words)", Mode.HYBRID: "Hybrid",
               Mode.SEMANTIC: "Semantic"}


@bp.before_request
def allow_batch_bodies() -> None:
    request.max_content_length = BATCH_MAX_BYTES
    request.max_form_memory_size = BATCH_MAX_BYTES


def runner() -> BatchRunner:
    extensions = current_app.extensions
    if "batches" not in extensions:
        jobs_dir = current_app.config["JOBS_DIR"]
        store = SharedBatchStore(Path(jobs_dir)) if jobs_dir else None
        extensions["batches"] = BatchRunner(get_services().engine, store=store)
    found: BatchRunner = extensions["batches"]
    return found


def _mode(value: str | None) -> Mode:
    if value is None or value == "":
        return Mode.KEYWORD
    if value not in set(Mode):
        raise InvalidQuery(f"mode must be one of {', '.join(Mode)}, not {value[:40]!r}")
    return Mode(value)


def _submit(batch: BatchInput, mode: Mode) -> BatchJob:
    try:
        return runner().submit(batch, mode)
    except BatchesBusy as exc:
        abort(429, str(exc))


def _job(job_id: str) -> BatchJob:
    job = runner().get(job_id)
    if job is None:
        abort(404, f"no batch {job_id!r} (only the last batches are kept)")
    return job


def _links(job: BatchJob) -> dict[str, str]:
    return {"status_url": url_for("investigate.api_status", job_id=job.id),
            "page_url": url_for("investigate.page", job_id=job.id),
            "csv_url": url_for("investigate.download_csv", job_id=job.id),
            "json_url": url_for("investigate.download_json", job_id=job.id)}


# -- the API ---------------------------------------------------------------------------------
def _api_batch() -> tuple[BatchInput, Mode]:
    """The batch a POST /api/batch carries: a JSON list (or {"queries": [...], "mode": ...}),
    a CSV or text body, or a multipart upload named `file`."""
    mode = request.args.get("mode")
    if request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            mode = body.get("mode", mode)
            body = body.get("queries")
        if not isinstance(body, list):
            raise InvalidQuery('send a JSON list of queries, or {"queries": [...], '
                               '"mode": "keyword"}')
        return read_items(body, BATCH_LIMIT), _mode(mode)
    upload = request.files.get("file")
    if upload is not None:
        text = upload.read().decode("utf-8-sig", errors="replace")
        name = upload.filename
    else:
        text = request.get_data(as_text=True)
        name = "batch.csv" if request.mimetype == "text/csv" else None
    return read_batch(text, guess_format(name, text), BATCH_LIMIT), _mode(mode)


@bp.post("/api/batch")
def api_batch() -> tuple[Response, int, dict[str, str]]:
    """Run a batch: 200 with its results when it is small, else 202 with its status URL."""
    batch, mode = _api_batch()
    job = _submit(batch, mode)
    links = _links(job)
    status = 200 if job.status is JobStatus.DONE else 202
    return jsonify(job.to_dict() | links), status, {"Location": links["status_url"]}


@bp.get("/api/batch/<job_id>")
def api_status(job_id: str) -> Response:
    job = _job(job_id)
    return jsonify(job.to_dict() | _links(job))


# -- the pages -------------------------------------------------------------------------------
@bp.get("/batch")
def form() -> str:
    """The form: paste a list or upload a file."""
    return render_template("batch.html", modes=MODE_LABELS, limit=BATCH_LIMIT, job=None)


@bp.post("/batch")
def submit() -> BaseResponse | tuple[str, int]:
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        text = upload.read().decode("utf-8-sig", errors="replace")
        name: str | None = upload.filename
    else:
        text, name = request.form.get("queries", ""), None
    try:
        fmt = (InputFormat(request.form["input"]) if request.form.get("input") in
               set(InputFormat) else guess_format(name, text))
        job = _submit(read_batch(text, fmt, BATCH_LIMIT), _mode(request.form.get("mode")))
    except InvalidQuery as exc:
        return render_template("batch.html", modes=MODE_LABELS, limit=BATCH_LIMIT, job=None,
                               error=str(exc), text=text), 400
    return redirect(url_for("investigate.page", job_id=job.id), 303)


@bp.get("/batch/<job_id>")
def page(job_id: str) -> str:
    """A batch's results; while it runs, its progress (the page reloads itself)."""
    job = _job(job_id)
    languages = sorted({code for r in job.results for code in r.languages})
    return render_template("batch.html", modes=MODE_LABELS, limit=BATCH_LIMIT, job=job,
                           languages=languages, links=_links(job))


def _download(job_id: str, body: Any, mimetype: str, suffix: str) -> Response:
    job = _job(job_id)
    if job.status is not JobStatus.DONE:
        abort(409, f"batch {job_id} is {job.status.value}; its results come when it is done")
    response = Response(body(job), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="batch-{job.id}.{suffix}"'
    return response


@bp.get("/batch/<job_id>/results.csv")
def download_csv(job_id: str) -> Response:
    return _download(job_id, lambda job: "".join(results_csv(job.results)),
                     "text/csv; charset=utf-8", "csv")


@bp.get("/batch/<job_id>/results.json")
def download_json(job_id: str) -> Response:
    return _download(job_id, lambda job: results_json(job.results),
                     "application/json; charset=utf-8", "json")

