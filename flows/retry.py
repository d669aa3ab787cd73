"""The ``retry-failed`` flow: ingest again the sources that failed in a job, or since a time.

Sources ingested by a later job are left out; one ingest job (a subflow run) per collection.
``inlet retry`` does the same by submitting jobs; this flow is the deployment form, runnable
from the Prefect UI.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow

from flows.ingest import ingest_flow
from pipelines import analytics, moments
from pipelines.config import get_settings


@flow(name="retry-failed", log_prints=True)
def retry_failed_flow(job_id: str | None = None, since: dt.datetime | None = None) -> dict[str, Any]:
    """Re-run the failed sources of ``job_id``, or of every job since ``since`` (a time without a
    zone is local time, as everywhere in inlet)."""
    if not job_id and not since:
        raise ValueError("retry-failed needs a job_id or a since time")
    settings = get_settings()
    jobs = {}
    for collection, paths in analytics.failed_paths(settings, job_id, moments.since(since)).items():
        summary = ingest_flow(paths, collection=collection, settings=settings)
        jobs[summary["job_id"]] = summary["status"]
    print(f"retried {len(jobs)} job(s): {jobs or 'nothing had failed'}")
    return {"jobs": jobs}
