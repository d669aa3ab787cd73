"""The ``maintenance`` flow (daily in ``prefect.yaml``): keep the stores small and fast.

- LanceDB: compact the tables and fold new rows into the search indexes (versions older than
  LanceDB's default 7 days are pruned; never less, since readers and writers may be at work);
- analytics: delete events, errors and searches past their retention, fold small files together;
- uploads: delete uploaded files that no source and no waiting or running job refers to, once
  they are a day old;
- staged inputs (with a store): delete those no job has named for ``inputs_retention_days`` and
  no waiting or running job names (``pipelines.staging.expire``).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from pipelines import analytics, staging
from pipelines.config import Settings, get_settings
from pipelines.search import refresh
from pipelines.store import Store

ORPHAN_AGE_S = 24 * 3600


@task(name="optimize-lancedb", cache_policy=NO_CACHE)
def optimize_store(settings: Settings) -> dict[str, Any]:
    store = Store(settings)
    report = refresh(store)
    store.optimize_sources()
    for name in store.chunk_tables():  # one per vector length (collections of other models)
        chunks = store.chunks(name)
        if chunks is not None:
            chunks.optimize()
    return {"chunks": store.count_chunks(), **{k: str(v) for k, v in (report or {}).items()}}


@task(name="analytics-retention", cache_policy=NO_CACHE)
def clean_analytics(settings: Settings) -> dict[str, Any]:
    removed = analytics.apply_retention(settings)
    compacted = analytics.compact(settings)
    return {"removed": removed, "compacted": compacted}


def referenced_paths(settings: Settings) -> set[str]:
    """Paths that a source of the store or a waiting or running job still refers to."""
    paths = set(Store(settings).source_rows()["path"].to_list())
    waiting = analytics.query(settings, "SELECT paths FROM job_state WHERE status IN ('queued', 'running')")
    for listed in waiting["paths"].to_list():
        paths.update(json.loads(listed or "[]"))
    return paths


@task(name="orphaned-uploads", cache_policy=NO_CACHE)
def remove_orphans(settings: Settings, older_than_s: float = ORPHAN_AGE_S) -> dict[str, int]:
    now = time.time()
    removed = 0
    if settings.uploads_dir.is_dir():
        keep = referenced_paths(settings)
        for path in settings.uploads_dir.rglob("*"):
            if path.is_file() and str(path) not in keep and now - path.stat().st_mtime > older_than_s:
                path.unlink()
                removed += 1
    return {"uploads_removed": removed}


@task(name="staged-inputs", cache_policy=NO_CACHE)
def expire_inputs(settings: Settings) -> dict[str, int]:
    return staging.expire(settings).report()


@flow(name="maintenance", log_prints=True)
def maintenance_flow(orphan_age_hours: float = 24) -> dict[str, Any]:
    """Compact and re-index LanceDB, apply analytics retention, remove orphaned uploads and
    staged inputs no job needs any more."""
    settings = get_settings()
    report = {
        "store": optimize_store(settings),
        "analytics": clean_analytics(settings),
        "files": remove_orphans(settings, orphan_age_hours * 3600),
        "inputs": expire_inputs(settings),
        "at": dt.datetime.now(dt.UTC).isoformat(),
    }
    create_table_artifact(
        [{"part": part, "result": str(result)} for part, result in report.items()],
        key="inlet-maintenance",
        description="What the last maintenance run did",
    )
    return report
