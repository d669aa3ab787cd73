"""``/v1/errors``, ``/v1/stats``, ``/v1/export``, ``/healthz``, ``/readyz``: the reports of
``inlet.errors``, ``inlet.error_classes``, ``inlet.stats``, ``inlet.export`` and ``inlet.health``.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

import inlet
from inlet.api.jobs import settings_of
from inlet.api.problems import API_CLASSES, JSON

router = APIRouter(tags=["reports and health"])

ERROR_KEYS = ("class", "message", "hint", "retryable", "file", "stage", "job_id", "at", "source_id", "kind",
              "attempt", "detail")  # fmt: skip
"""The error fields a client sees: ``inlet errors --json`` without the traceback."""
EXPORT_TABLES = ("jobs", "errors", "collections", "sources")
_FORMATS = {"parquet": ("parquet", "application/vnd.apache.parquet"), "csv": ("csv", "text/csv; charset=utf-8"),
            "md": ("markdown", "text/markdown; charset=utf-8"), "markdown": ("markdown", "text/markdown; charset=utf-8")}  # fmt: skip


@router.get("/v1/errors", response_class=JSON)
def list_errors(
    request: Request,
    error_class: Annotated[
        str | None, Query(alias="class", description="Only this class, e.g. damaged_pdf.")
    ] = None,
    since: Annotated[str | None, Query(description="24h, 7d, 30m or an ISO date.")] = None,
    job: Annotated[str | None, Query(description="Only the errors of this job.")] = None,
    collection: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> dict[str, Any]:
    """Recorded failures, newest first, each with its class, message and recovery hint."""
    rows = inlet.errors(job, error_class=error_class, collection=collection, since=since, limit=limit,
                        settings=settings_of(request)).to_dicts()  # fmt: skip
    return {"errors": [{k: r.get(k) for k in ERROR_KEYS} for r in rows]}


@router.get("/v1/errors/classes", response_class=JSON)
def error_classes() -> dict[str, Any]:
    """Every class of error inlet reports, with its meaning, recovery hint and whether inlet
    retries it; ``api`` lists the classes of the HTTP layer's own problems (401, 429, ...)."""
    api = [{"class": name, "status": c["status"], "message": c["message"], "hint": c["hint"],
            "retryable": c["retryable"]} for name, c in API_CLASSES.items()]  # fmt: skip
    return {"classes": inlet.error_classes(), "api": api}


@router.get("/v1/stats", response_class=JSON)
def stats(
    request: Request,
    since: Annotated[str | None, Query(description="24h, 7d, 30m or an ISO date.")] = None,
    collection: str | None = None,
) -> dict[str, Any]:
    """Totals in the store and every analytics figure, as ``inlet stats --json``."""
    return inlet.stats(since=since, collection=collection, settings=settings_of(request)).to_json()


@router.get(
    "/v1/export",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}, "text/csv": {}, "text/markdown": {},
                                 "application/vnd.apache.parquet": {}}}},
)  # fmt: skip
def export(
    request: Request,
    format: Literal["parquet", "csv", "md", "markdown"] = "parquet",  # noqa: A002 - the word users know
    table: Annotated[
        Literal["jobs", "errors", "collections", "sources"] | None,
        Query(description="One table; default all four, zipped."),
    ] = None,
    since: Annotated[str | None, Query(description="24h, 7d, 30m or an ISO date.")] = None,
    collection: str | None = None,
) -> FileResponse:
    """Jobs, errors, the per-collection summary and the sources with their keywords, summary and
    category, as ``inlet export`` writes them: one table as a file, or all four in a zip archive."""
    fmt, media = _FORMATS[format]
    folder = Path(tempfile.mkdtemp(prefix="inlet-export-"))
    cleanup = BackgroundTask(shutil.rmtree, folder, ignore_errors=True)
    try:
        written = inlet.export(folder, format=fmt, tables=[table] if table else list(EXPORT_TABLES), since=since,
                               collection=collection, settings=settings_of(request))  # fmt: skip
        if table:
            path = written[table]
            return FileResponse(path, media_type=media, filename=path.name, background=cleanup)
        archive = folder / "inlet-export.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
            for path in written.values():
                z.write(path, path.name)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(archive, media_type="application/zip", filename=archive.name, background=cleanup)


@router.get("/healthz", response_class=JSON)
def healthz() -> dict[str, Any]:
    """The process is up (no store is read)."""
    return {"status": "ok", "version": inlet.__version__}


@router.get("/readyz", response_class=JSON, responses={503: {"description": "Not ready: see `checks`."}})
def readyz(request: Request) -> JSON:
    """Ready to work: the stores are readable, the models are found, and jobs have somewhere to
    run (the local worker starts on demand; in server mode, the Prefect server answers). The
    rest is what the dashboard's Health page shows (``inlet.health()``). 503 when not ready."""
    s = settings_of(request)
    try:
        health = inlet.health(settings=s)
        stores: dict[str, Any] = {"ok": True, "reason": None}
    except Exception as exc:  # an unreadable store is the answer, not a failure of the probe
        health = {"home": str(s.home), "models": [], "server": None, "mode": s.active_mode, "stores": [],
                  "versions": []}  # fmt: skip
        stores = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"}
    missing = [m for m in health["models"] if m["problem"]]
    models = {"ok": bool(health["models"]) and not missing,
              "reason": "; ".join(m["problem"] for m in missing) or None}  # fmt: skip
    server = health.get("server")
    if health["mode"] == "server":
        worker = {"ok": bool(server and server["ok"]), "reason": (server or {}).get("reason")}
    else:
        worker = {"ok": True, "reason": "embedded mode: a local worker is started when a job is submitted"}
    checks = {"stores": stores, "models": models, "worker": worker}
    ready = all(c["ok"] for c in checks.values())
    body = {"ready": ready, "checks": checks} | {
        k: (v.to_dicts() if hasattr(v, "to_dicts") else v) for k, v in health.items()
    }
    return JSON(body, status_code=200 if ready else 503)
