"""Job, stage-event and error analytics: immutable Parquet files written, DuckDB reading them.

No process keeps a DuckDB file open (DESIGN decision 6): a writer appends one Parquet file per
batch of rows (written aside, then renamed, so a reader never sees half a file), and a reader
queries the files with a fresh in-memory DuckDB over a glob. Results come back as polars frames.

Tables (one folder each under ``home/analytics``):

- ``jobs``: one row per job state change; the latest row of a job is its state.
- ``events``: stage start / end / retry / fail, with timings and counts.
- ``errors``: classified failures, with message, hint, retryable flag and detail.
- ``searches``: one row per search: query, mode, filters (JSON), result count, latency.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import uuid
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipelines.config import Settings

SCHEMAS: dict[str, dict[str, Any]] = {
    "jobs": {
        "job_id": pl.Utf8, "collection": pl.Utf8, "priority": pl.Utf8, "status": pl.Utf8,
        "submitted_at": pl.Datetime("us", "UTC"), "started_at": pl.Datetime("us", "UTC"),
        "finished_at": pl.Datetime("us", "UTC"), "flow_run_id": pl.Utf8, "n_sources": pl.Int64,
        "n_failed": pl.Int64, "n_unchanged": pl.Int64, "chunks_written": pl.Int64,
        "paths": pl.Utf8, "at": pl.Datetime("us", "UTC"),
    },
    "events": {
        "job_id": pl.Utf8, "collection": pl.Utf8, "source_id": pl.Utf8, "file": pl.Utf8,
        "kind": pl.Utf8, "stage": pl.Utf8, "event": pl.Utf8, "attempt": pl.Int64,
        "duration_s": pl.Float64, "bytes": pl.Int64, "pages": pl.Int64,
        "audio_s": pl.Float64, "chunks": pl.Int64, "embedded": pl.Int64, "cached": pl.Boolean,
        "at": pl.Datetime("us", "UTC"),
    },
    "errors": {
        "job_id": pl.Utf8, "collection": pl.Utf8, "source_id": pl.Utf8, "file": pl.Utf8,
        "path": pl.Utf8, "stage": pl.Utf8, "class": pl.Utf8, "message": pl.Utf8,
        "hint": pl.Utf8, "retryable": pl.Boolean, "attempt": pl.Int64, "detail": pl.Utf8,
        "at": pl.Datetime("us", "UTC"),
    },
    "searches": {
        "query": pl.Utf8, "mode": pl.Utf8, "collection": pl.Utf8, "filters": pl.Utf8,
        "results": pl.Int64, "latency_ms": pl.Float64, "at": pl.Datetime("us", "UTC"),
    },
}  # fmt: skip

_lock = threading.Lock()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _folder(settings: Settings, table: str) -> Path:
    return settings.analytics_dir / table


def record(settings: Settings, table: str, rows: list[dict[str, Any]]) -> Path | None:
    """Append ``rows`` to ``table`` as one new Parquet file; missing columns are null."""
    if not rows:
        return None
    schema = SCHEMAS[table]
    stamp = now()
    full = [{**{c: None for c in schema}, "at": stamp, **row} for row in rows]
    unknown = set().union(*full) - set(schema)
    if unknown:
        raise ValueError(f"unknown {table} columns: {sorted(unknown)}")
    frame = pl.DataFrame(full, schema=schema)
    folder = _folder(settings, table) / stamp.strftime("%Y-%m-%d")
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{stamp.strftime('%H%M%S%f')}-{os.getpid()}-{uuid.uuid4().hex[:8]}.parquet"
    tmp = folder / f".{name}.tmp"
    with _lock:
        frame.write_parquet(tmp)
        os.replace(tmp, folder / name)
    return folder / name


def _relation(settings: Settings, table: str) -> str:
    """SQL for one table: its Parquet files, or an empty relation with the right columns."""
    folder = _folder(settings, table)
    if any(folder.glob("*/*.parquet")):
        glob = str(folder / "*" / "*.parquet").replace("'", "''")
        return f"read_parquet('{glob}', union_by_name = true)"
    empty = pl.DataFrame(schema=SCHEMAS[table])
    cols = ", ".join(f'CAST(NULL AS {_duck_type(dtype)}) AS "{name}"' for name, dtype in empty.schema.items())
    return f"(SELECT {cols} WHERE FALSE)"


def _duck_type(dtype: Any) -> str:
    if dtype == pl.Utf8:
        return "VARCHAR"
    if dtype == pl.Int64:
        return "BIGINT"
    if dtype == pl.Float64:
        return "DOUBLE"
    if dtype == pl.Boolean:
        return "BOOLEAN"
    return "TIMESTAMPTZ"


# A job's state: its latest status, and the first known value of everything else.
_JOB_STATE = """
CREATE VIEW job_state AS
SELECT job_id, any_value(collection) AS collection, any_value(priority) AS priority,
       arg_max(status, "at") AS status, min(submitted_at) AS submitted_at,
       min(started_at) AS started_at, max(finished_at) AS finished_at,
       any_value(flow_run_id) AS flow_run_id, max(n_sources) AS n_sources,
       max(n_failed) AS n_failed, max(n_unchanged) AS n_unchanged,
       max(chunks_written) AS chunks_written, any_value(paths) AS paths, max("at") AS "at"
FROM jobs GROUP BY job_id
"""


def query(settings: Settings, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
    """Run ``sql`` over the tables ``jobs``, ``events``, ``errors`` (as views) in a fresh
    in-memory DuckDB; values go in ``params`` (``?`` placeholders), never into ``sql``."""
    con = duckdb.connect(":memory:")
    try:
        for table in SCHEMAS:
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM {_relation(settings, table)}")
        con.execute(_JOB_STATE)
        return pl.from_arrow(con.sql(sql, params=params or None).to_arrow_table())  # type: ignore[return-value]
    finally:
        con.close()


def errors(settings: Settings, job_id: str | None = None, limit: int = 1000) -> pl.DataFrame:
    """Recorded errors, newest first."""
    sql = "SELECT * FROM errors"
    params: list[Any] = []
    if job_id:
        sql += " WHERE job_id = ?"
        params.append(job_id)
    return query(settings, sql + ' ORDER BY "at" DESC LIMIT ?', [*params, limit])


def jobs(settings: Settings, limit: int = 100) -> pl.DataFrame:
    """The latest state of each job, newest first."""
    return query(settings, "SELECT * FROM job_state ORDER BY submitted_at DESC LIMIT ?", [limit])
