"""The ``ingest-inbox`` flow (on an interval in ``prefect.yaml``): mirror a folder into a collection.

New files and files changed since they were ingested go to one ingest job (a subflow run);
sources ingested from the inbox whose file is gone are removed from the index. A file is
looked at again only when its modification time is newer than its ingestion, so an unchanged
inbox costs a directory listing. Links are not followed out of the inbox, and special files
(FIFOs, devices) are never opened; both are reported with their error class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow

from flows.ingest import ingest_flow
from pipelines.config import get_settings
from pipelines.formats import storable
from pipelines.search import refresh
from pipelines.sources import discover
from pipelines.store import Store, remove_sources


@flow(name="ingest-inbox", log_prints=True)
def inbox_flow(inbox: str, collection: str = "inbox", priority: str = "low") -> dict[str, Any]:
    """Ingest what is new or changed in ``inbox``; remove from the index what left it."""
    settings = get_settings()
    folder = Path(inbox).expanduser().resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"The inbox folder {folder} does not exist; create it or fix the parameter.")
    store = Store(settings)
    rows = store.source_rows(collection)
    known: dict[str, float] = {}
    for row in rows.iter_rows(named=True):
        if row["path"] and row["path"].startswith(str(folder)) and row.get("ingested_at") is not None:
            stamp = row["ingested_at"].timestamp()
            known[row["path"]] = max(known.get(row["path"], 0.0), stamp)
    files, refused = discover([str(folder)])
    # paths are stored as UTF-8 (``storable``): compare them in that form
    todo = [str(f) for f in files if known.get(storable(str(f)), -1.0) < f.stat().st_mtime]
    # What was refused (links out of the inbox, FIFOs) goes to the job too, which refuses it
    # again with its class, so that it shows in `inlet errors` (as a failed file does).
    todo += [e.path for e in refused if e.path]
    removed, gone_ids = [], []
    present = {storable(str(f)) for f in files}
    for row in rows.iter_rows(named=True):
        if row["path"] and row["path"].startswith(str(folder)) and row["path"] not in present:
            gone_ids.append(row["source_id"])
            removed.append(row["path"])
    if gone_ids:
        remove_sources(store, collection, gone_ids)
    summary = None
    if todo:  # within: a file swapped for a link after this listing is not followed either
        summary = ingest_flow(
            todo, collection=collection, settings=settings, priority=priority, within=str(folder)
        )
    if removed:
        refresh(store)
        store.optimize_sources()
    print(f"inbox {folder}: {len(todo)} new or changed, {len(removed)} removed")
    return {"ingested": todo, "removed": removed, "job": summary and summary["job_id"]}
