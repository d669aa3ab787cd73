"""Reports over the analytics store and the index: errors and totals."""

from __future__ import annotations

from typing import Any

import polars as pl

from inlet._settings import resolve
from pipelines import analytics
from pipelines.config import Settings
from pipelines.store import Store


def errors(job_id: str | None = None, *, settings: Settings | None = None, **overrides: Any) -> pl.DataFrame:
    """Recorded failures, newest first: ``class, message, hint, retryable, file, stage,
    job_id, at`` (plus ``path``, ``source_id``, ``attempt``, ``detail``)."""
    s = resolve(settings, overrides)
    frame = analytics.errors(s, job_id=job_id)
    first = ["class", "message", "hint", "retryable", "file", "stage", "job_id", "at"]
    return frame.select(first + [c for c in frame.columns if c not in first])


def stats(*, settings: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    """Totals: ``sources`` and ``chunks`` in the store, per collection, jobs and errors."""
    s = resolve(settings, overrides)
    store = Store(s)
    sources = store.source_rows()
    per_collection: dict[str, dict[str, int]] = {}
    if sources.height:
        grouped = sources.group_by("collection").agg(
            pl.len().alias("sources"), pl.col("n_chunks").sum().alias("chunks")
        )
        per_collection = {
            r["collection"]: {"sources": r["sources"], "chunks": int(r["chunks"])}
            for r in grouped.iter_rows(named=True)
        }
    counts = analytics.query(
        s, "SELECT (SELECT count(*) FROM job_state) AS jobs, (SELECT count(*) FROM errors) AS errors"
    ).row(0, named=True)
    by_kind = (
        {r["kind"]: r["len"] for r in sources.group_by("kind").len().iter_rows(named=True)}
        if sources.height else {}
    )  # fmt: skip
    return {
        "sources": sources.height,
        "chunks": store.count_chunks(),
        "collections": per_collection,
        "sources_by_kind": by_kind,
        "jobs": counts["jobs"],
        "errors": counts["errors"],
        "home": str(s.home),
    }
