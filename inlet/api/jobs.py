"""``/v1/jobs``: uploads and server-side paths become jobs; a job's state, its event stream,
cancel and retry. Every action is the facade's (``inlet.submit``, ``inlet.cancel``,
``inlet.retry``); the state is ``inlet.jobs`` and ``inlet.job_sources``.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

import inlet
from inlet.api.bodies import read_json, receive_uploads
from inlet.api.guard import RateLimiter, retry_after
from inlet.api.problems import JSON, Problem, plain
from inlet.config import Settings
from inlet.uploads import UploadBatch, collection_name

router = APIRouter(tags=["jobs"])

PRIORITIES = ("high", "normal", "low")

JOB_KEYS = (
    "job_id", "status", "finished", "priority", "collection", "progress", "eta_s", "submitted_at",
    "started_at", "finished_at", "chunks_written", "retries", "stuck", "requeues", "workers",
)  # fmt: skip
STAGE_WORDS = {
    "validate": "checking the file", "extract": "extracting the text", "transcribe": "transcribing",
    "chunk": "cutting into chunks", "embed": "embedding",
    "analyse": "finding keywords, summary and category", "index": "writing to the index",
}  # fmt: skip
END_WORDS = {"ingested": "ingested", "unchanged": "unchanged since its last ingest", "cancelled": "cancelled"}
POLL_S = 1.0
"""How often the event stream reads a job's state (each read is a query over its events)."""

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        "collection": {"type": "string"},
                        "priority": {"type": "string", "enum": list(PRIORITIES)},
                    },
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["paths"],
                    "properties": {
                        "paths": {"type": "array", "items": {"type": "string"},
                                  "description": "Files or folders on the server, under INLET_API_ROOTS."},
                        "collection": {"type": "string"},
                        "priority": {"type": "string", "enum": list(PRIORITIES)},
                    },
                }
            },
        },
    }
}  # fmt: skip


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def views_of(request: Request) -> JobViews:
    views: JobViews = request.app.state.job_views
    return views


def links(job_id: str) -> dict[str, str]:
    base = f"/v1/jobs/{job_id}"
    return {"self": base, "events": f"{base}/events", "cancel": f"{base}/cancel", "retry": f"{base}/retry"}


# --- creating jobs ---------------------------------------------------------------------------
@router.post("/v1/jobs", status_code=202, response_class=JSON, openapi_extra=UPLOAD_BODY)
async def create_job(
    request: Request,
    collection: Annotated[str | None, Query(description="Collection to add to (or a form field).")] = None,
    priority: Annotated[str | None, Query(description="high, normal or low (or a form field).")] = None,
    model: Annotated[
        str | None,
        Query(description="Embedding model of a new collection, e.g. usem3 (multilingual; or a form field)."),
    ] = None,
) -> JSON:
    """Queue files as one job: a multipart upload (field ``files``, repeatable), each file
    checked as the dashboard checks it and kept under the home folder; or a JSON body
    ``{"paths": [...]}`` of files and folders on the server, under ``INLET_API_ROOTS``.
    ``model`` (query, form field or JSON) makes a new collection with that embedding model;
    naming another model than an existing collection's is a 409 ``model_mismatch``.

    202 with the job id, the accepted files and each rejected file with its class and hint;
    422 when no file was accepted."""
    s = settings_of(request)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        if collection is not None:  # refuse before reading anything when the query says enough
            _check_upload_budget(request, _collection(collection, s))
        if priority is not None:
            _priority(priority)
        received = await run_in_threadpool(receive_uploads, request, s)
        try:
            if received.overflow:
                raise Problem("request_too_large",
                              f"The request is over {s.api_max_request_bytes} bytes; nothing of it was kept.")  # fmt: skip
            if received.broken:
                raise Problem(
                    "invalid_request", f"The upload was not complete ({received.broken}); nothing was kept."
                )
            name = _collection(collection or received.fields.get("collection"), s)
            level = _priority(priority or received.fields.get("priority"))
            accepted = [_accepted(a) for a in received.batch.accepted]
            rejected = [_rejected(r.name, r.error) for r in received.batch.rejected]
            if collection is None:  # named in the form: known only now
                _check_upload_budget(request, name)
            if not accepted:
                raise Problem("nothing_accepted", extra={"accepted": [], "rejected": rejected})
            chosen = _model(model or received.fields.get("model"))
            job_id = await run_in_threadpool(
                lambda: inlet.submit(received.batch.paths, name, priority=level, model=chosen, settings=s)
            )
        except Exception:
            _discard(received.batch)
            raise
    elif kind == "application/json":
        body = await read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("paths"), list) or not body["paths"]:
            raise Problem(
                "invalid_request", 'Send {"paths": ["/a/file.pdf", ...], "collection": ..., "priority": ...}.'
            )
        name = _collection(collection or body.get("collection"), s)
        level = _priority(priority or body.get("priority"))
        accepted, rejected, paths = _server_paths(body["paths"], s)
        _check_upload_budget(request, name)
        if not paths:
            raise Problem("nothing_accepted", extra={"accepted": [], "rejected": rejected})
        chosen = _model(model or body.get("model"))
        job_id = await run_in_threadpool(
            lambda: inlet.submit(paths, name, priority=level, model=chosen, settings=s)
        )
    else:
        raise Problem("unsupported_media_type", f"Content-Type {kind or '(none)'} is not accepted here.")
    body = {
        "job_id": job_id, "status": "queued", "collection": name, "priority": level,
        "accepted": accepted, "rejected": rejected, "links": links(job_id),
    }  # fmt: skip
    return JSON(body, status_code=202, headers={"Location": f"/v1/jobs/{job_id}"})


MODEL_NAME_MAX = 300
"""Longest model name accepted (a folder path at most)."""


def _model(value: Any) -> str | None:
    """The embedding model asked for, or ``None``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > MODEL_NAME_MAX:
        raise Problem("invalid_request", "model must be the name of an embedding model, e.g. usem3.")
    return value.strip()


def _collection(value: Any, settings: Settings) -> str:
    typed = (value if isinstance(value, str) else "").strip() or settings.collection
    name = collection_name(typed)
    if name is None:
        raise Problem(
            "invalid_request",
            f"{typed!r} is not a collection name: a letter, digit or underscore, then up to 63 of those, "
            "spaces, dots or dashes.",
        )
    return name


def _priority(value: Any) -> str:
    level = (value if isinstance(value, str) else "").strip() or "normal"
    if level not in PRIORITIES:
        raise Problem("invalid_request", f"priority must be one of {', '.join(PRIORITIES)}, not {level!r}.")
    return level


def _check_upload_budget(request: Request, collection: str) -> None:
    limiter: RateLimiter = request.app.state.upload_limiter
    wait = limiter.take(collection)
    if wait > 0:
        raise Problem("rate_limited", f"Over {int(limiter.capacity)} uploads per minute to collection {collection!r}.",
                      headers=retry_after(wait))  # fmt: skip


def _accepted(a: Any) -> dict[str, Any]:
    return {"name": a.name, "file": a.path.name, "kind": a.kind, "size": a.size,
            "duration_s": a.duration_s, "pages": a.pages}  # fmt: skip


def _rejected(name: str, error: Any) -> dict[str, Any]:
    return {"name": name, "class": error.code, "message": error.message, "hint": error.hint,
            "retryable": error.retryable}  # fmt: skip


def _discard(batch: UploadBatch) -> None:
    """Remove the files of a batch that will not become a job."""
    if batch.accepted:
        shutil.rmtree(batch.folder, ignore_errors=True)


def _server_paths(
    given: list[Any], settings: Settings
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Accepted and rejected server-side paths; any path outside the roots refuses the request."""
    roots = [Path(r).expanduser().resolve() for r in settings.api_roots]
    not_found = next(c for c in inlet.error_classes() if c["class"] == "not_found")
    accepted, rejected, paths = [], [], []
    for raw in given:
        if not isinstance(raw, str) or not raw.strip():
            raise Problem("invalid_request", "Each path must be a non-empty string.")
        path = Path(raw).expanduser().resolve()  # symlinks and .. resolved before the check
        if not any(path.is_relative_to(root) for root in roots):
            raise Problem("forbidden_path", f"{raw} is outside the folders this server may read"
                          + ("" if roots else " (none are configured)") + ".")  # fmt: skip
        if not path.exists():
            rejected.append({"name": raw, "class": "not_found", "message": f"{raw} does not exist on the server",
                             "hint": not_found["hint"], "retryable": False})  # fmt: skip
            continue
        accepted.append({"name": raw, "file": path.name, "kind": None, "size": None, "duration_s": None,
                         "pages": None})  # fmt: skip
        paths.append(str(path))
    return accepted, rejected, paths


# --- following jobs --------------------------------------------------------------------------
@router.get("/v1/jobs", response_class=JSON)
def list_jobs(
    request: Request,
    status: Annotated[list[str] | None, Query(description="Only these statuses (repeatable).")] = None,
    collection: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    """Recent jobs, newest first, with their progress and ETA."""
    rows = inlet.jobs(
        status=status or None, collection=collection, limit=limit, settings=settings_of(request)
    )
    jobs = []
    for row in rows.to_dicts():
        job = {k: row.get(k) for k in JOB_KEYS}
        job["counts"] = {"sources": row["sources"], "failed": row["failed"], "unchanged": row["unchanged"]}
        job["links"] = links(row["job_id"])
        jobs.append(job)
    return {"jobs": jobs}


def job_view(job_id: str, settings: Settings) -> dict[str, Any] | None:
    """A job's state: status, stage-weighted progress, ETA, counts, and per file its stage,
    status, progress and message (with its error's class and hint when it failed)."""
    rows = inlet.jobs(job_id=job_id, limit=1, settings=settings)
    if not rows.height:
        return None
    row = rows.row(0, named=True)
    files = [_file_view(f) for f in inlet.job_sources(job_id, settings=settings).to_dicts()]
    seen = Counter(f["status"] for f in files)
    view = {k: row.get(k) for k in JOB_KEYS}
    view["counts"] = {
        "sources": row["sources"], "ingested": seen["ingested"], "unchanged": max(row["unchanged"], seen["unchanged"]),
        "failed": max(row["failed"], seen["failed"]), "cancelled": seen["cancelled"],
        "in_progress": seen["running"] + seen["retrying"], "waiting": max(0, (row["sources"] or 0) - len(files)),
    }  # fmt: skip
    view["files"] = files
    view["links"] = links(job_id)
    return view


def _file_view(f: dict[str, Any]) -> dict[str, Any]:
    error = None
    if f.get("error_class"):
        error = {"class": f["error_class"], "message": f.get("error_message"), "hint": f.get("error_hint"),
                 "retryable": f.get("error_retryable")}  # fmt: skip
    status, stage = f.get("status"), f.get("stage")
    if status == "failed":
        message = (error or {}).get("message") or f"failed while {STAGE_WORDS.get(stage or '', stage)}"
    elif status == "retrying":
        message = f"retrying: {STAGE_WORDS.get(stage or '', stage)}"
    else:
        message = END_WORDS.get(status or "") or STAGE_WORDS.get(stage or "", stage or "waiting")
    return {
        "file": f.get("file"), "source_id": f.get("source_id"), "kind": f.get("kind"), "stage": stage,
        "status": status, "progress": f.get("progress"), "message": message, "retries": f.get("retries"),
        "seconds": f.get("seconds"), "chunks": f.get("chunks"), "error": error, "worker": f.get("worker"),
    }  # fmt: skip


class JobViews:
    """Job states read at most once per ``fresh_s`` per job in this process, however many
    clients poll the job or follow its events: reading a state is a query over the job's events
    (a few hundred milliseconds on a busy machine), and concurrent readers of one job wait for
    one read instead of each making their own. An ended job changes no more, so its state is
    kept longer (``ended_s``)."""

    def __init__(self, fresh_s: float = 1.0, ended_s: float = 30.0, size: int = 1000) -> None:
        self.fresh_s, self.ended_s, self.size = fresh_s, ended_s, size
        self._views: dict[str, tuple[float, dict[str, Any]]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, job_id: str, settings: Settings) -> dict[str, Any] | None:
        """The job's state (a copy the caller may change), ``None`` when the job is unknown."""
        found = self._fresh(job_id)
        if found is not None:
            return dict(found)
        with self._guard:
            lock = self._locks.setdefault(job_id, threading.Lock())
        with lock:
            found = self._fresh(job_id)
            if found is None:
                found = job_view(job_id, settings)
                if found is None:
                    return None
                with self._guard:
                    if len(self._views) >= self.size:
                        self._views.clear()
                        self._locks = {job_id: lock}
                    self._views[job_id] = (time.monotonic(), found)
        return dict(found)

    def _fresh(self, job_id: str) -> dict[str, Any] | None:
        held = self._views.get(job_id)
        if held is None:
            return None
        at, view = held
        return view if time.monotonic() - at < (self.ended_s if view["finished"] else self.fresh_s) else None


def _job_or_404(job_id: str, settings: Settings, views: JobViews | None = None) -> dict[str, Any]:
    view = views.get(job_id, settings) if views is not None else job_view(job_id, settings)
    if view is None:
        raise Problem("unknown_resource", f"No job {job_id} is known here.")
    return view


@router.get("/v1/jobs/{job_id}", response_class=JSON)
def get_job(request: Request, job_id: str) -> dict[str, Any]:
    """One job, as a client polls it: status, progress (0..1, stage-weighted), ``eta_s``,
    counts, and each file's current stage and message. Read at most once a second per job."""
    return _job_or_404(job_id, settings_of(request), views_of(request))


@router.get(
    "/v1/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def job_events(
    request: Request,
    job_id: str,
    heartbeat_s: Annotated[float | None, Query(gt=0, le=300)] = None,
) -> StreamingResponse:
    """Server-Sent Events: a ``progress`` event (the job as ``GET /v1/jobs/{id}`` gives it) each
    time its status, progress or a file's stage changes, ``heartbeat`` events while nothing does,
    and one ``end`` event when the job has ended. The progress sent never goes down. A client
    that disconnects stops nothing: the job runs in the worker."""
    s, views = settings_of(request), views_of(request)
    first = await run_in_threadpool(_job_or_404, job_id, s, views)
    every = heartbeat_s or s.api_heartbeat_s
    return StreamingResponse(
        _stream(first, job_id, s, views, every),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(
    view: dict[str, Any] | None, job_id: str, s: Settings, views: JobViews, heartbeat_s: float
) -> AsyncIterator[bytes]:
    seq, best, last_key = 0, 0.0, None
    last_sent = checked = time.monotonic()
    yield b"retry: 2000\n\n"
    while True:
        if view is not None:
            best = max(best, float(view["progress"] or 0.0))
            view["progress"] = best
            key = json.dumps(
                [
                    view["status"],
                    best,
                    [(f["file"], f["stage"], f["status"], f["progress"]) for f in view["files"]],
                ],
                default=str,
            )
            if key != last_key:
                seq += 1
                yield _event(seq, "progress", view)
                last_key, last_sent = key, time.monotonic()
            if view["finished"]:
                seq += 1
                yield _event(seq, "end", view)
                return
        if time.monotonic() - last_sent >= heartbeat_s:
            seq += 1
            yield _event(seq, "heartbeat", {"job_id": job_id, "at": dt.datetime.now(dt.UTC).isoformat()})
            last_sent = time.monotonic()
        await anyio.sleep(POLL_S)
        if time.monotonic() - checked > 10:  # a local worker that died is replaced, as inlet.wait does
            await run_in_threadpool(lambda: inlet.keep_serving(settings=s))
            checked = time.monotonic()
        view = await run_in_threadpool(views.get, job_id, s)


def _event(seq: int, name: str, data: dict[str, Any]) -> bytes:
    text = json.dumps(plain(data), ensure_ascii=False, allow_nan=False, default=str)
    return f"id: {seq}\nevent: {name}\ndata: {text}\n\n".encode()


# --- steering jobs ---------------------------------------------------------------------------
@router.post("/v1/jobs/{job_id}/cancel", response_class=JSON)
def cancel_job(request: Request, job_id: str) -> JSON:
    """Cancel a job as ``inlet cancel`` does: ``cancelled`` (it had not started), ``cancelling``
    (it stops before its next step; what was indexed stays) or ``finished`` (it had ended)."""
    outcome = inlet.cancel(job_id, settings=settings_of(request))
    if outcome == "unknown":
        raise Problem("unknown_resource", f"No job {job_id} is known here.")
    return JSON({"job_id": job_id, "result": outcome, "links": links(job_id)},
                status_code=202 if outcome == "cancelling" else 200)  # fmt: skip


@router.post("/v1/jobs/{job_id}/retry", response_class=JSON)
def retry_job(request: Request, job_id: str, priority: str = "normal") -> JSON:
    """Submit again the sources that failed in this job, as ``inlet retry`` does; the new job
    ids (one per collection; none when nothing failed)."""
    s = settings_of(request)
    _job_or_404(job_id, s)
    jobs = inlet.retry(job_id, priority=_priority(priority), settings=s)
    return JSON({"job_id": job_id, "jobs": jobs, "links": {j: f"/v1/jobs/{j}" for j in jobs}},
                status_code=202 if jobs else 200)  # fmt: skip
