"""Reading: a fresh in-memory DuckDB per query, over the live files, as polars frames.

Views available to ``query``:

- ``jobs``, ``events``, ``errors``, ``searches``: the tables, in the current schema whatever
  version their files were written with.
- ``job_state``: one row per job, its latest status and the first known value of the rest
  (``requeues``: the most, ``at``: the latest row, a sign of life included).
- ``source_events``: ``events`` plus each ``errors`` row of a source as a ``fail`` event, keyed
  by ``source_key`` (the source id, or the path for a file that never got one); a job's own
  error, which names no source, stays in ``errors`` only.
- ``source_state``: one row per source of a job: ``status`` (``ingested``, ``unchanged``,
  ``failed``, ``cancelled``, ``retrying``, ``running``), current ``stage``, ``progress`` by the
  rules of ``pipelines/progress.py``, retries, seconds, peak memory (``peak_mb``), first and
  last event time.
- ``stage_weights``: ``pipelines.progress.weight_rows()``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import duckdb
import polars as pl

from pipelines import objstore, progress
from pipelines.config import Settings

from .files import live_files, parquet_source, register_remote
from .schema import SCHEMAS, select_current

_JOB_STATE = """
CREATE VIEW job_state AS
SELECT job_id,
       arg_max(collection, "at") FILTER (WHERE collection IS NOT NULL) AS collection,
       arg_max(priority, "at") FILTER (WHERE priority IS NOT NULL) AS priority,
       arg_max(status, epoch_us("at") * 4 + CASE status WHEN 'queued' THEN 0 WHEN 'running' THEN 1
                                                      ELSE 2 END) AS status, min(submitted_at) AS submitted_at,
       min(started_at) AS started_at, max(finished_at) AS finished_at,
       arg_max(flow_run_id, "at") FILTER (WHERE flow_run_id IS NOT NULL) AS flow_run_id,
       max(n_sources) AS n_sources, max(n_failed) AS n_failed, max(n_unchanged) AS n_unchanged,
       max(chunks_written) AS chunks_written,
       arg_min(paths, "at") FILTER (WHERE paths IS NOT NULL) AS paths,
       arg_max(summary, "at") FILTER (WHERE summary IS NOT NULL) AS summary,
       coalesce(max(requeues), 0) AS requeues, max("at") AS "at"
FROM jobs GROUP BY job_id
"""

_SOURCE_EVENTS = """
CREATE VIEW source_events AS
SELECT job_id, coalesce(source_id, path, file) AS source_key, source_id, path, file, kind, collection,
       stage, event, attempt, duration_s, bytes, pages, audio_s, chunks, error_class, message, peak_mb, "at"
FROM events
UNION ALL BY NAME
SELECT job_id, coalesce(source_id, path, file) AS source_key, source_id, path, file, kind, collection,
       stage, 'fail' AS event, attempt, "class" AS error_class, message, "at"
FROM errors
WHERE coalesce(source_id, path, file) IS NOT NULL  -- a job's own error (the store out of reach) is no source
"""


def source_state_sql(events: str = "source_events") -> str:
    """The ``source_state`` query over a relation shaped like ``source_events`` (a view, a CTE)."""
    return f"""
WITH agg AS (
    SELECT job_id, source_key, max(source_id) AS source_id, max(path) AS path, max(file) AS file,
           max(kind) AS kind, max(collection) AS collection,
           arg_max(stage, "at") AS stage, arg_max(event, "at") AS last_event,
           bool_or(event = 'end' AND stage = 'index') AS has_index_end, bool_or(event = 'skip') AS has_skip,
           bool_or(event = 'fail') AS has_fail, bool_or(event = 'cancel') AS has_cancel,
           count(*) FILTER (WHERE event = 'retry') AS retries, max(attempt) AS attempts,
           sum(duration_s) FILTER (WHERE event = 'end') AS seconds,
           max(pages) AS pages, max(audio_s) AS audio_s, max(chunks) AS chunks, max(peak_mb) AS peak_mb,
           min("at") AS first_at, max("at") AS last_at,
           list(DISTINCT stage) FILTER (WHERE event = 'end') AS ended_stages
    FROM {events} GROUP BY job_id, source_key
),
done AS (
    SELECT a.job_id, a.source_key,
           sum(CASE WHEN a.kind IN (SELECT kind FROM stage_weights WHERE kind <> '*')
                    THEN coalesce(w.weight, 0) ELSE coalesce(d.weight, 0) END) AS done
    FROM (SELECT job_id, source_key, kind, unnest(ended_stages) AS stage FROM agg) a
    LEFT JOIN stage_weights w ON w.kind = a.kind AND w.stage = a.stage
    LEFT JOIN stage_weights d ON d.kind = '*' AND d.stage = a.stage
    GROUP BY ALL
)
SELECT agg.* EXCLUDE (ended_stages),
       CASE WHEN has_index_end THEN 'ingested' WHEN has_skip THEN 'unchanged' WHEN has_fail THEN 'failed'
            WHEN has_cancel THEN 'cancelled' WHEN last_event = 'retry' THEN 'retrying'
            ELSE 'running' END AS status,
       CASE WHEN has_index_end OR has_skip OR has_fail OR has_cancel THEN 1.0
            ELSE least(coalesce(done.done, 0.0), 1.0) END AS progress
FROM agg LEFT JOIN done USING (job_id, source_key)
"""


_SOURCE_STATE = f"CREATE VIEW source_state AS {source_state_sql()}"

_WEIGHTS = ", ".join(f"('{k}', '{s}', {float(w)!r}::DOUBLE)" for k, s, w in progress.weight_rows())
"""The stage weights as SQL values (constants of ``pipelines.progress``, not user input)."""

_MISSING_FILE_SIGNS = ("no such file", "no files found", "cannot open file", "could not open")


def connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB with every view of this module over the live files.

    On an object store the files are pyarrow datasets on its S3 filesystem, registered in the
    connection and scanned lazily (only the columns a query needs): DuckDB's own S3 reader is
    an extension it would have to download."""
    con = duckdb.connect(":memory:")
    remote = objstore.remote(settings)
    for table in SCHEMAS:
        files = live_files(settings, table)
        if not files:
            source = "(SELECT 1 AS _none WHERE FALSE)"
        elif remote is None:
            source = parquet_source(files)
        else:
            source = register_remote(con, remote, table, files)
        con.execute(f"CREATE VIEW {table} AS {select_current(table, source)}")
    con.execute(f"CREATE TABLE stage_weights AS SELECT * FROM (VALUES {_WEIGHTS}) t(kind, stage, weight)")
    for view in (_JOB_STATE, _SOURCE_EVENTS, _SOURCE_STATE):
        con.execute(view)
    return con


def query(
    settings: Settings, sql: str, params: list[Any] | None = None, *, attempts: int = 8
) -> pl.DataFrame:
    """Run ``sql`` over the views above in a fresh in-memory DuckDB; values go in ``params``
    (``?`` placeholders), never into ``sql``. A file replaced by compaction between listing
    and reading makes the query start over (at most ``attempts`` times); no lock is ever taken.

    >>> query(settings, "SELECT status, count(*) AS n FROM job_state GROUP BY status")  # doctest: +SKIP
    """
    return _read(settings, lambda con: _frame(con, sql, params), attempts)


SNAPSHOT_VIEWS = ("events", "errors", "source_events", "source_state")
"""The views :func:`query_many` reads once into memory, in this order (each may use the ones
before it)."""


def query_many(
    settings: Settings, statements: dict[str, tuple[str, list[Any]]], *, attempts: int = 8
) -> dict[str, pl.DataFrame]:
    """Run several queries over one snapshot of the files: ``{name: (sql, params)}`` ->
    ``{name: frame}``. Events, errors and the per-source state are read and computed once
    (:data:`SNAPSHOT_VIEWS`), so a report of many figures costs about one query, and all its
    figures agree with each other."""

    def run(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
        for view in SNAPSHOT_VIEWS:
            con.execute(f"CREATE TEMP TABLE {view}_snapshot AS SELECT * FROM {view}")
            con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {view}_snapshot")
        return {name: _frame(con, sql, params) for name, (sql, params) in statements.items()}

    return _read(settings, run, attempts)


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None) -> pl.DataFrame:
    return pl.from_arrow(con.sql(sql, params=params or None).to_arrow_table())  # type: ignore[return-value]  # a Table gives a DataFrame; pyarrow is untyped


_T = TypeVar("_T")


def _read(settings: Settings, work: Callable[[duckdb.DuckDBPyConnection], _T], attempts: int) -> _T:
    """``work(connection)`` on a fresh connection, started over when compaction replaced a
    file between listing and reading."""
    for attempt in range(attempts):
        con = None
        try:
            con = connect(settings)
            return work(con)
        except duckdb.IOException as exc:
            if attempt == attempts - 1 or not any(s in str(exc).lower() for s in _MISSING_FILE_SIGNS):
                raise
            time.sleep(0.01 * (attempt + 1))
        except (duckdb.InvalidInputException, OSError) as exc:  # a pyarrow read of an object store
            if attempt == attempts - 1 or not objstore.is_missing(exc):
                raise
            time.sleep(0.01 * (attempt + 1))
        finally:
            if con is not None:
                con.close()
    raise AssertionError("unreachable")


def table_rows(settings: Settings) -> dict[str, int]:
    """How many rows each analytics table holds now (``jobs`` counts state changes)."""
    names = list(SCHEMAS)
    counts = query(settings, "SELECT " + ", ".join(f"(SELECT count(*) FROM {t}) AS {t}" for t in names))
    return {t: int(counts[t][0]) for t in names}
