"""The questions people ask of the analytics, answered as polars frames.

``jobs`` (with progress and ETA), ``job_sources`` (per file), ``errors``, and ``statistics``:
outcome rates, stage durations and throughput, retries, queue depth, errors over time,
health and search figures. Every function reads through ``read.query`` (fresh DuckDB).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import polars as pl

from pipelines import objstore, progress
from pipelines.config import Settings
from pipelines.records import FINISHED_SOURCE_STATUSES, FINISHED_STATUSES

from .files import now
from .read import query, query_many, source_state_sql


def _since_clause(column: str, since: dt.datetime | None, params: list[Any]) -> str:
    if since is None:
        return "TRUE"
    params.append(since)
    return f"{column} >= ?"


def errors(
    settings: Settings,
    job_id: str | None = None,
    *,
    collection: str | None = None,
    error_class: str | None = None,
    since: dt.datetime | None = None,
    limit: int = 1000,
) -> pl.DataFrame:
    """Recorded errors, newest first (every column of ``errors``).

    >>> errors(settings, error_class="damaged_pdf", limit=10)  # doctest: +SKIP
    """
    where, params = ["TRUE"], []
    for column, value in (("job_id", job_id), ("collection", collection), ('"class"', error_class)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    where.append(_since_clause('"at"', since, params))
    sql = f'SELECT * FROM errors WHERE {" AND ".join(where)} ORDER BY "at" DESC LIMIT ?'
    return query(settings, sql, [*params, limit])


JOB_COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    "job_id": pl.Utf8, "status": pl.Utf8, "finished": pl.Boolean, "priority": pl.Utf8, "collection": pl.Utf8,
    "progress": pl.Float64, "eta_s": pl.Float64, "submitted_at": pl.Datetime("us", "UTC"),
    "started_at": pl.Datetime("us", "UTC"), "finished_at": pl.Datetime("us", "UTC"),
    "sources": pl.Int64, "failed": pl.Int64, "unchanged": pl.Int64, "retries": pl.Int64,
    "chunks_written": pl.Int64, "flow_run_id": pl.Utf8, "flow_run_url": pl.Utf8, "last_event_at": pl.Datetime("us", "UTC"),
    "stuck": pl.Boolean, "requeues": pl.Int64, "workers": pl.List(pl.Utf8),
}  # fmt: skip


_FINISHED_SOURCES = ", ".join(f"'{s}'" for s in sorted(FINISHED_SOURCE_STATUSES))
"""The finished source statuses as SQL literals (constants of ``pipelines.records``)."""

_THROUGHPUT_SQL = """
WITH f AS (SELECT last_at AS "at", kind FROM source_state WHERE status IN ({finished}) AND {where}),
span AS (SELECT coalesce(epoch(max("at")) - epoch(min("at")), 0) AS s FROM f),
w AS (SELECT CASE WHEN s <= 600 THEN 10 WHEN s <= 3600 THEN 60 WHEN s <= 18000 THEN 300
                  WHEN s <= 54000 THEN 900 WHEN s <= 216000 THEN 3600 WHEN s <= 1296000 THEN 21600
                  ELSE 86400 END AS width FROM span)
SELECT time_bucket(to_seconds(w.width), f."at") AS bucket, w.width AS bucket_s, f.kind, count(*) AS files
FROM f, w GROUP BY ALL ORDER BY bucket, f.kind
"""


def jobs(
    settings: Settings,
    *,
    status: str | list[str] | None = None,
    collection: str | None = None,
    job_id: str | None = None,
    limit: int = 100,
    at: dt.datetime | None = None,
) -> pl.DataFrame:
    """The latest state of each job, newest first, with ``progress`` (0..1) and ``eta_s``.

    ``progress`` is 1 for a finished job, 0 for a queued one, else the mean of its sources'
    stage-weighted progress (``pipelines.progress``); ``eta_s`` extrapolates the time since it
    started. ``stuck`` marks a running job with no event for ``stuck_job_after_s``;
    ``requeues`` counts the times its worker put it back on its queue because it was stuck;
    ``workers`` names the workers that processed its files (several for a job split in parts).

    >>> jobs(settings, status="running")  # doctest: +SKIP
    """
    where, params = ["TRUE"], []
    statuses = [status] if isinstance(status, str) else status
    if statuses:
        where.append(f"status IN ({', '.join('?' * len(statuses))})")
        params += statuses
    for column, value in (("collection", collection), ("job_id", job_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    sql = f"""
    WITH j AS (SELECT * FROM job_state WHERE {" AND ".join(where)}
               ORDER BY submitted_at DESC NULLS LAST, "at" DESC LIMIT ?),
    ev AS MATERIALIZED (SELECT * FROM source_events WHERE job_id IN (SELECT job_id FROM j)),
    st AS ({source_state_sql("ev")}),
    s AS (SELECT job_id, list(progress) AS per_source, count(*) FILTER (WHERE status = 'failed') AS failed,
                 count(*) FILTER (WHERE status = 'unchanged') AS unchanged, sum(retries) AS retries,
                 min(first_at) AS first_event_at, max(last_at) AS last_event_at
          FROM st GROUP BY job_id),
    w AS (SELECT job_id, list_sort(list(DISTINCT worker)) AS workers FROM events
          WHERE worker IS NOT NULL AND job_id IN (SELECT job_id FROM j) GROUP BY job_id)
    SELECT j.*, s.per_source, s.failed AS seen_failed, s.unchanged AS seen_unchanged, s.retries,
           s.first_event_at, greatest(j."at", s.last_event_at) AS last_event_at, w.workers
    FROM j LEFT JOIN s USING (job_id) LEFT JOIN w USING (job_id)
    ORDER BY j.submitted_at DESC NULLS LAST, j."at" DESC
    """
    raw = query(settings, sql, [*params, limit])
    moment = at or now()
    rows = []
    for r in raw.iter_rows(named=True):
        per_source = r["per_source"] or []
        n_sources = max(r["n_sources"] or 0, len(per_source))
        finished = r["status"] in FINISHED_STATUSES
        if finished:
            done, eta = 1.0, 0.0
        elif r["status"] == "queued":
            done, eta = 0.0, None
        else:
            done = progress.job_progress(per_source, n_sources or None)
            began = r["started_at"] or r["first_event_at"] or r["submitted_at"]
            eta = progress.eta_seconds((moment - began).total_seconds(), done) if began else None
        last = r["last_event_at"]
        rows.append({
            "job_id": r["job_id"], "status": r["status"], "finished": finished, "priority": r["priority"],
            "collection": r["collection"], "progress": round(done, 4), "eta_s": eta,
            "submitted_at": r["submitted_at"], "started_at": r["started_at"],
            "finished_at": r["finished_at"], "sources": n_sources,
            "failed": max(r["n_failed"] or 0, r["seen_failed"] or 0),
            "unchanged": max(r["n_unchanged"] or 0, r["seen_unchanged"] or 0),
            "retries": int(r["retries"] or 0), "chunks_written": r["chunks_written"],
            "flow_run_id": r["flow_run_id"], "flow_run_url": settings.flow_run_url(r["flow_run_id"]),
            "last_event_at": last,
            "stuck": bool(r["status"] == "running" and last is not None
                          and (moment - last).total_seconds() > settings.stuck_job_after_s),
            "requeues": int(r["requeues"] or 0), "workers": r["workers"] or [],
        })  # fmt: skip
    return pl.DataFrame(rows, schema=JOB_COLUMNS)


def job_sources(settings: Settings, job_id: str) -> pl.DataFrame:
    """One row per file of a job: ``file, path, kind, stage, status, progress``, retries,
    seconds, peak memory (``peak_mb``), its latest error's ``error_class, error_message, error_hint``,
    and the ``worker`` that processed it last (``inlet worker --name``).

    >>> job_sources(settings, "3f2a9c0d1e2b")  # doctest: +SKIP
    """
    sql = f"""
    WITH ev AS MATERIALIZED (SELECT * FROM source_events WHERE job_id = ?),
    st AS ({source_state_sql("ev")}),
    le AS (SELECT source_key, arg_max(error_class, "at") AS last_error FROM ev GROUP BY 1),
    e AS (
        SELECT coalesce(source_id, path, file) AS source_key, arg_max("class", "at") AS error_class,
               arg_max(message, "at") AS error_message, arg_max(hint, "at") AS error_hint,
               arg_max(retryable, "at") AS error_retryable
        FROM errors WHERE job_id = ? GROUP BY 1
    ),
    w AS (
        SELECT coalesce(source_id, path, file) AS source_key, arg_max(worker, "at") AS worker
        FROM events WHERE job_id = ? AND worker IS NOT NULL GROUP BY 1
    )
    SELECT st.file, st.path, st.kind, st.stage, st.status, st.progress, st.source_id, st.retries,
           st.attempts, st.seconds, st.pages, st.audio_s, st.chunks, st.peak_mb,
           coalesce(e.error_class, CASE WHEN st.status = 'failed' THEN le.last_error END) AS error_class,
           e.error_message, e.error_hint, e.error_retryable, st.first_at, st.last_at, w.worker
    FROM st LEFT JOIN le USING (source_key) LEFT JOIN e USING (source_key) LEFT JOIN w USING (source_key)
    ORDER BY st.first_at, st.file
    """
    return query(settings, sql, [job_id, job_id, job_id])


# --- statistics ---------------------------------------------------------------------------
def _outcomes(by: str, where: str) -> str:
    return f"""
    SELECT coalesce({by}, 'unknown') AS {by}, count(*) AS sources,
           count(*) FILTER (WHERE status IN ('ingested', 'unchanged')) AS succeeded,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
           count(*) FILTER (WHERE status IN ('running', 'retrying')) AS in_progress,
           round(count(*) FILTER (WHERE status IN ('ingested', 'unchanged'))
                 / nullif(count(*) FILTER (WHERE status IN ('ingested', 'unchanged', 'failed')), 0), 4)
               AS success_rate,
           round(count(*) FILTER (WHERE status = 'failed')
                 / nullif(count(*) FILTER (WHERE status IN ('ingested', 'unchanged', 'failed')), 0), 4)
               AS failure_rate
    FROM source_state WHERE {where} GROUP BY 1 ORDER BY 1
    """


_STAGES_SQL = """
WITH ends AS (
    SELECT stage, count(*) AS ended, avg(duration_s) AS mean_s,
           quantile_cont(duration_s, 0.5) AS p50_s, quantile_cont(duration_s, 0.95) AS p95_s,
           max(duration_s) AS max_s, sum(duration_s) AS total_s,
           sum(pages) / nullif(sum(duration_s) FILTER (WHERE pages IS NOT NULL), 0) AS pages_per_s,
           sum(audio_s) / nullif(sum(duration_s) FILTER (WHERE audio_s IS NOT NULL), 0) AS audio_s_per_s,
           sum(chunks) / nullif(sum(duration_s) FILTER (WHERE chunks IS NOT NULL), 0) AS chunks_per_s,
           quantile_cont(peak_mb, 0.5) AS peak_mb_p50, max(peak_mb) AS peak_mb_max
    FROM events WHERE event = 'end' AND {where} GROUP BY stage
),
fails AS (
    SELECT stage, count(*) AS failed
    FROM (SELECT DISTINCT job_id, source_key, stage FROM source_events WHERE event = 'fail' AND {where})
    GROUP BY stage
)
SELECT coalesce(ends.stage, fails.stage) AS stage, coalesce(ended, 0) AS ended,
       coalesce(failed, 0) AS failed,
       round(coalesce(failed, 0) / nullif(coalesce(ended, 0) + coalesce(failed, 0), 0), 4) AS failure_rate,
       mean_s, p50_s, p95_s, max_s, total_s, pages_per_s, audio_s_per_s, chunks_per_s, peak_mb_p50, peak_mb_max
FROM ends FULL JOIN fails ON ends.stage IS NOT DISTINCT FROM fails.stage
ORDER BY array_position({order!r}, coalesce(ends.stage, fails.stage)) NULLS LAST, 1
"""

_RETRIES_SQL = """
WITH r AS (SELECT job_id, source_key, stage, count(*) AS n, min("at") AS first_retry
           FROM source_events WHERE event = 'retry' AND {where} GROUP BY ALL)
SELECT coalesce(sum(n), 0)::BIGINT AS retries, count(*) AS retried,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM source_events x WHERE x.job_id = r.job_id AND x.source_key = r.source_key
           AND x.stage = r.stage AND x.event = 'end' AND x."at" >= r.first_retry)) AS recovered,
       round(recovered / nullif(retried, 0), 4) AS success_rate
FROM r
"""

_HEALTH_SQL = """
SELECT (SELECT max(finished_at) FROM job_state WHERE status IN ('completed', 'partially_failed'))
           AS last_success_at,
       (SELECT max("at") FROM events WHERE event = 'end' AND stage = 'index') AS last_indexed_at,
       (SELECT count(*) FROM job_state WHERE status = 'queued') AS queued,
       (SELECT count(*) FROM errors WHERE "at" >= ?) AS errors_24h
"""

_SEARCHES_SQL = """
WITH s AS (SELECT coalesce(mode, 'unknown') AS m, results, latency_ms FROM searches WHERE {where})
SELECT m AS mode, count(*) AS queries, count(*) FILTER (WHERE results = 0) AS no_results,
       quantile_cont(latency_ms, 0.5) AS p50_ms, quantile_cont(latency_ms, 0.95) AS p95_ms
FROM s GROUP BY m
UNION ALL
SELECT 'all', count(*), count(*) FILTER (WHERE results = 0),
       quantile_cont(latency_ms, 0.5), quantile_cont(latency_ms, 0.95)
FROM s ORDER BY mode = 'all', mode
"""


def statistics(
    settings: Settings,
    *,
    since: dt.datetime | None = None,
    collection: str | None = None,
    every: str = "1 hour",
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Every figure of the pipeline's work, as frames (and two small dicts).

    - ``by_kind``, ``by_collection``: sources, succeeded, failed, cancelled, in progress,
      success and failure rates (of the sources that finished).
    - ``stages``: per stage, ended and failed counts, failure rate, duration mean/p50/p95/max
      (seconds, over ``end`` events), throughput (pages/s, audio seconds/s, chunks/s), and peak
      memory per source (``peak_mb_p50``, ``peak_mb_max``, MB: the bounded child's for parsed
      documents, the worker's high-water mark for stages run in the worker).
    - ``retries``: retry events, retried stages, how many then ended, and that rate.
    - ``queue``: jobs ``queued`` per priority.
    - ``errors_by_class``: error counts per class and time bucket (``every``, a DuckDB interval).
    - ``health``: last success, jobs running and queued, stuck jobs (running, no event for
      ``stuck_job_after_s``), errors in the last 24 hours.
    - ``searches``: per mode, queries, no-result queries, latency p50/p95 (ms).
    - ``throughput``: files finished per time ``bucket`` and ``kind`` (``files``); the bucket
      width ``bucket_s`` follows the span of the data (10 s to a day, 60 bars at most).

    ``since`` and ``collection`` narrow events, errors and searches.

    >>> statistics(settings)["stages"]  # doctest: +SKIP
    """
    params: list[Any] = []
    ev_where = _since_clause('"at"', since, params)
    if collection is not None:
        ev_where += " AND collection = ?"
        params.append(collection)
    src_where = ev_where.replace('"at"', "first_at")
    moment = at or now()
    s_params: list[Any] = []
    s_where = _since_clause('"at"', since, s_params)
    if collection is not None:
        s_where += " AND collection = ?"
        s_params.append(collection)
    frames = query_many(settings, {
        "by_kind": (_outcomes("kind", src_where), params),
        "by_collection": (_outcomes("collection", src_where), params),
        "stages": (_STAGES_SQL.format(where=ev_where, order=list(progress.STAGES)), params + params),
        "retries": (_RETRIES_SQL.format(where=ev_where), params),
        "queue": (
            "SELECT priority, count(*) AS queued FROM job_state WHERE status = 'queued' GROUP BY 1 ORDER BY 1",
            [],
        ),
        "errors_by_class": (
            f"""SELECT time_bucket(CAST(? AS INTERVAL), "at") AS bucket, "class", count(*) AS errors
            FROM errors WHERE {ev_where} GROUP BY ALL ORDER BY bucket, "class" """,
            [every, *params],
        ),
        "health": (_HEALTH_SQL, [moment - dt.timedelta(hours=24)]),
        "searches": (_SEARCHES_SQL.format(where=s_where), s_params),
        "throughput": (_THROUGHPUT_SQL.format(where=src_where, finished=_FINISHED_SOURCES), params),
    })  # fmt: skip
    running = jobs(settings, status="running", limit=10_000, at=moment)
    stuck = running.filter(pl.col("stuck"))
    health = {
        **frames["health"].row(0, named=True),
        "running": running.height,
        "stuck": stuck.height,
        "stuck_jobs": stuck.select("job_id", "collection", "last_event_at", "progress"),
        "stuck_after_s": settings.stuck_job_after_s,
    }
    by_kind, by_collection, stages = frames["by_kind"], frames["by_collection"], frames["stages"]
    retries, queue = frames["retries"].row(0, named=True), frames["queue"]
    errors_by_class, searches = frames["errors_by_class"], frames["searches"]
    return {
        "by_kind": by_kind,
        "by_collection": by_collection,
        "stages": stages,
        "retries": retries,
        "queue": queue,
        "errors_by_class": errors_by_class,
        "health": health,
        "searches": searches,
        "throughput": frames["throughput"],
    }


def failed_paths(
    settings: Settings, job_id: str | None = None, since: dt.datetime | None = None
) -> dict[str, list[str]]:
    """Paths of the sources that failed (in ``job_id``, or in any job since ``since``), by
    collection, leaving out those ingested by a later job.

    A staged input is given as the reference its job named (``s3://…/inputs/<source_id>#<name>``),
    which a worker on any machine can read, not as the path of the copy that failed in one
    worker's cache; a later job that ingested the same bytes, from any copy, counts."""
    where: list[str] = []
    params: list[Any] = [objstore.STAGED_ID]
    if job_id:
        where.append("e.job_id = ?")
        params.append(job_id)
    if since:
        where.append('e."at" >= ?')
        params.append(since)
    sql = f"""
        WITH failed AS (
            SELECT e.collection, e.job_id, e.path, e."at",
                   coalesce(e.source_id, nullif(regexp_extract(e.path, ?, 1), '')) AS source_id
            FROM errors e WHERE {" AND ".join(where) or "TRUE"} AND e.path IS NOT NULL
        )
        SELECT f.collection, f.job_id, f.path, max(f.source_id) AS source_id FROM failed f
        WHERE NOT EXISTS (
            SELECT 1 FROM events v
            WHERE v.collection = f.collection AND (v.source_id = f.source_id OR v.path = f.path)
              AND v.stage = 'index' AND v.event = 'end' AND v."at" > f."at")
        GROUP BY f.collection, f.job_id, f.path
    """
    rows = query(settings, sql, params).rows(named=True)
    staged = _staged_references(settings, {r["job_id"] for r in rows if objstore.staged_id(r["path"])})
    by_collection: dict[str, set[str]] = {}
    for row in rows:
        path = row["path"]
        named = staged.get(row["job_id"], {}).get(row["source_id"] or "", [])
        if named and path not in named:  # the reference of the same name, else the first
            own = [r for r in named if objstore.input_name(r) == Path(path).name]
            path = (own or named)[0]
        by_collection.setdefault(row["collection"], set()).add(path)
    return {collection: sorted(paths) for collection, paths in sorted(by_collection.items())}


def _staged_references(settings: Settings, job_ids: set[str]) -> dict[str, dict[str, list[str]]]:
    """The staged inputs each of ``job_ids`` named: job id -> source id -> references."""
    if not job_ids:
        return {}
    found: dict[str, dict[str, list[str]]] = {}
    rows = query(
        settings, "SELECT job_id, paths FROM job_state WHERE list_contains(?, job_id)", [sorted(job_ids)]
    )
    for job, paths in rows.iter_rows():
        for path in json.loads(paths or "[]"):
            source_id = objstore.staged_id(str(path))
            if source_id and objstore.INPUT_REFERENCE.match(str(path)):
                found.setdefault(job, {}).setdefault(source_id, []).append(str(path))
    return found
