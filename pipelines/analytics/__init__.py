"""Job, stage-event, error and search analytics: immutable Parquet files, read with DuckDB.

No process keeps a DuckDB file open (DESIGN decision 6): writers append one Parquet file per
batch of rows (``record``), readers query the live files with a fresh in-memory DuckDB
(``query``), and one maintenance step at a time folds small files together (``compact``) and
drops old rows (``apply_retention``); both are safe while writers and readers work.

Tables (``SCHEMAS``, one folder each under ``home/analytics``), versioned (``schema``):

- ``jobs``: one row per job state change (queued, running, completed, partially_failed,
  failed, cancelled); the latest row of a job is its state. A row without a status is a sign
  of life of a long stage (it only moves the job's ``at``).
- ``events``: per source and stage (validate, extract, transcribe, chunk, embed, index):
  start, end, retry, fail, skip, cancel, with attempt, duration and counts.
- ``errors``: classified failures with message, hint, retryable flag, traceback.
- ``searches``: one row per search: query, mode, filters (JSON), result count, latency.

    >>> from pipelines import analytics
    >>> analytics.record(settings, "events", [{"job_id": "j1", "stage": "extract", "event": "end"}])  # doctest: +SKIP
    >>> analytics.jobs(settings)  # doctest: +SKIP
"""

from .export import FORMATS, to_markdown
from .export import write as export_frame
from .files import (
    apply_retention,
    change_mark,
    compact,
    flush,
    live_files,
    now,
    record,
    record_soon,
    versions,
    write_frame,
)
from .read import connect, query, query_many, table_rows
from .reports import errors, failed_paths, job_sources, jobs, statistics
from .schema import SCHEMA_VERSION, SCHEMAS

__all__ = [
    "failed_paths",
    "FORMATS",
    "SCHEMAS",
    "SCHEMA_VERSION",
    "apply_retention",
    "change_mark",
    "compact",
    "connect",
    "errors",
    "export_frame",
    "flush",
    "job_sources",
    "jobs",
    "live_files",
    "now",
    "query",
    "query_many",
    "record",
    "record_soon",
    "statistics",
    "table_rows",
    "to_markdown",
    "versions",
    "write_frame",
]
