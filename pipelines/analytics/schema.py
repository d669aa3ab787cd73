"""The analytics tables, their versions, and how an older file reads as the current version.

Every Parquet file carries the version it was written with (key ``inlet_schema_version`` in
its footer; files written before versioning have none and are version 1). Readers never
need a migration to have run: each table is read through its *current* columns, a column
missing from a file reads as null, and ``UPGRADES`` fills a column from older ones where a
version moved data (e.g. version 1 kept an internal error's traceback in ``detail``).
Compaction (``files.compact``) rewrites old files in the current version, so migrating is
nothing more than compacting; no data is dropped.

History:

- **1** (first release): ``jobs``, ``events``, ``errors``.
- **2**: ``events`` gain ``path``, ``error_class`` and ``message`` (for ``retry``/``fail``
  events); ``errors`` gain ``kind`` and ``traceback``; new table ``searches``.
- **3**: ``jobs`` gain ``summary`` (the job's summary as JSON, on its last row), so a finished
  job's result comes from the store, in both modes; ``events`` gain ``peak_mb`` (the peak
  memory of the stage that ended).
- **4**: ``jobs`` gain ``requeues`` (how many times the worker put the job back on its queue
  because it was stuck), and a job may have rows without a ``status``: signs of life of a long
  stage, written by the worker's stuck-job watchdog.
- **5**: ``events`` and ``jobs`` gain ``worker`` (the name of the worker that wrote them,
  ``inlet worker --name``); ``jobs`` gain ``part`` and ``part_summary``: a job split over
  workers writes, for each part as it ends, a row without a status carrying that part's summary
  (its first run sums them up in the job's last row).
"""

from __future__ import annotations

from typing import Any

import polars as pl

SCHEMA_VERSION = 5
VERSION_KEY = "inlet_schema_version"

_TS = pl.Datetime("us", "UTC")

V1: dict[str, dict[str, Any]] = {
    "jobs": {
        "job_id": pl.Utf8, "collection": pl.Utf8, "priority": pl.Utf8, "status": pl.Utf8,
        "submitted_at": _TS, "started_at": _TS, "finished_at": _TS, "flow_run_id": pl.Utf8,
        "n_sources": pl.Int64, "n_failed": pl.Int64, "n_unchanged": pl.Int64,
        "chunks_written": pl.Int64, "paths": pl.Utf8, "at": _TS,
    },
    "events": {
        "job_id": pl.Utf8, "collection": pl.Utf8, "source_id": pl.Utf8, "file": pl.Utf8,
        "kind": pl.Utf8, "stage": pl.Utf8, "event": pl.Utf8, "attempt": pl.Int64,
        "duration_s": pl.Float64, "bytes": pl.Int64, "pages": pl.Int64,
        "audio_s": pl.Float64, "chunks": pl.Int64, "embedded": pl.Int64, "cached": pl.Boolean,
        "at": _TS,
    },
    "errors": {
        "job_id": pl.Utf8, "collection": pl.Utf8, "source_id": pl.Utf8, "file": pl.Utf8,
        "path": pl.Utf8, "stage": pl.Utf8, "class": pl.Utf8, "message": pl.Utf8,
        "hint": pl.Utf8, "retryable": pl.Boolean, "attempt": pl.Int64, "detail": pl.Utf8,
        "at": _TS,
    },
}  # fmt: skip
"""Version 1, exactly as the first release wrote it (kept to test migrations)."""

SCHEMAS: dict[str, dict[str, Any]] = {
    "jobs": {
        **{k: v for k, v in V1["jobs"].items() if k != "at"}, "summary": pl.Utf8, "requeues": pl.Int64,
        "worker": pl.Utf8, "part": pl.Int64, "part_summary": pl.Utf8, "at": _TS,
    },
    "events": {
        **{k: v for k, v in V1["events"].items() if k != "at"},
        "path": pl.Utf8, "error_class": pl.Utf8, "message": pl.Utf8, "peak_mb": pl.Float64, "worker": pl.Utf8,
        "at": _TS,
    },
    "errors": {
        **{k: v for k, v in V1["errors"].items() if k != "at"},
        "kind": pl.Utf8, "traceback": pl.Utf8, "at": _TS,
    },
    "searches": {
        "query": pl.Utf8, "mode": pl.Utf8, "collection": pl.Utf8, "filters": pl.Utf8,
        "results": pl.Int64, "latency_ms": pl.Float64, "at": _TS,
    },
}  # fmt: skip
"""The current columns of each table (``at`` is when the row was written, UTC)."""

UPGRADES: dict[str, dict[str, str]] = {
    "errors": {"traceback": """coalesce("traceback", CASE WHEN "class" = 'internal' THEN "detail" END)"""},
}
"""SQL giving a current column from the columns of older versions (missing ones are null)."""

SORT_KEYS: dict[str, list[str]] = {
    "jobs": ["job_id", "at"],
    "events": ["job_id", "source_id", "at"],
    "errors": ["job_id", "at"],
    "searches": ["at"],
}
"""Row order of compacted files: a job's rows sit together, so a filter on it skips row groups."""


def duck_type(dtype: Any) -> str:
    """The DuckDB type of a polars column type used in ``SCHEMAS``."""
    if dtype == pl.Utf8:
        return "VARCHAR"
    if dtype == pl.Int64:
        return "BIGINT"
    if dtype == pl.Float64:
        return "DOUBLE"
    if dtype == pl.Boolean:
        return "BOOLEAN"
    if dtype == _TS:
        return "TIMESTAMPTZ"
    raise TypeError(f"no DuckDB type for {dtype}")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def select_current(table: str, source: str) -> str:
    """SQL reading ``source`` (files of any version) as the current columns of ``table``."""
    schema = SCHEMAS[table]
    empty = ", ".join(f"CAST(NULL AS {duck_type(t)}) AS {quote(c)}" for c, t in schema.items())
    upgrades = UPGRADES.get(table, {})
    cols = ", ".join(f"{upgrades.get(c, quote(c))} AS {quote(c)}" for c in schema)
    return f"SELECT {cols} FROM (SELECT {empty} WHERE FALSE UNION ALL BY NAME SELECT * FROM {source})"
