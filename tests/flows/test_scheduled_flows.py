"""The deployments' other flows: ingest-inbox, retry-failed, maintenance (Prefect harness)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from flows.inbox import inbox_flow
from flows.ingest import ingest_flow
from flows.maintenance import maintenance_flow
from flows.retry import retry_failed_flow
from pipelines import analytics
from pipelines.config import get_settings
from pipelines.search import search
from pipelines.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def note(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_inbox_takes_new_and_changed_files_and_drops_removed_ones(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    keep = note(inbox / "keep.txt", "The harbour master logs every ship that enters the port.")
    gone = note(inbox / "gone.txt", "The lighthouse keeper trims the wick at dusk.")
    first = inbox_flow(str(inbox), collection="box")
    assert sorted(Path(p).name for p in first["ingested"]) == ["gone.txt", "keep.txt"]
    assert inbox_flow(str(inbox), collection="box")["ingested"] == []  # nothing new: no job

    gone.unlink()
    time.sleep(0.01)
    keep.write_text("The harbour master now logs ships and their cargo at the port.")
    os.utime(keep)  # newer than its ingestion
    second = inbox_flow(str(inbox), collection="box")
    assert [Path(p).name for p in second["ingested"]] == ["keep.txt"]
    assert [Path(p).name for p in second["removed"]] == ["gone.txt"]
    store = Store(get_settings())
    assert store.source_rows("box")["file"].to_list() == ["keep.txt"]
    hits = search(store, "cargo", None, mode="text", collection="box")
    assert hits.height and "lighthouse" not in " ".join(hits["text"].to_list())


def test_retry_failed_ingests_what_failed_and_then_has_nothing_left(tmp_path: Path) -> None:
    settings = get_settings()
    good = note(tmp_path / "good.txt", "Tide tables are printed each spring for the fishing fleet.")
    late = tmp_path / "late.txt"
    first = ingest_flow([str(good), str(late)], collection="c", settings=settings, job_id="retry-src")
    assert first["status"] == "partially_failed"
    assert analytics.failed_paths(settings, "retry-src") == {"c": [str(late)]}

    note(late, "The late file arrived after the first job had already run.")
    report = retry_failed_flow(job_id="retry-src")
    assert list(report["jobs"].values()) == ["completed"]
    assert analytics.failed_paths(settings, "retry-src") == {}  # ingested by a later job
    assert sorted(Store(settings).source_rows("c")["file"].to_list()) == ["good.txt", "late.txt"]


def test_maintenance_compacts_cleans_and_removes_orphaned_uploads_only(tmp_path: Path) -> None:
    settings = get_settings()
    uploads = settings.uploads_dir
    used = note(uploads / "used.txt", "A source that stays: ferries leave the quay every hour.")
    orphan = note(uploads / "orphan.txt", "Nobody refers to this upload any more.")
    fresh = note(uploads / "fresh.txt", "Uploaded a moment ago; its job is not submitted yet.")
    ingest_flow([str(used)], collection="c", settings=settings)
    day_ago = time.time() - 2 * 86400
    for path in (used, orphan):
        os.utime(path, (day_ago, day_ago))
    report = maintenance_flow()
    assert report["files"]["uploads_removed"] == 1
    assert used.exists() and fresh.exists() and not orphan.exists()
    assert report["store"]["chunks"] == Store(settings).count_chunks() > 0
    assert set(report["analytics"]) == {"removed", "compacted"}
