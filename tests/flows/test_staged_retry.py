"""Retrying a staged file that failed: from a home that shares nothing but the store, and after
the maintenance deleted its input (the Prefect harness, moto S3 on loopback with the fixtures of
``tests/conftest.py``, real LanceDB and DuckDB, the embedding model)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from flows.ingest import ingest_flow
from flows.maintenance import maintenance_flow
from flows.retry import retry_failed_flow
from pipelines import analytics, staging
from pipelines.config import get_settings
from pipelines.search import search
from pipelines.sources import hash_file
from pipelines.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


NAME = "Harbour notes.md"


def _original(tmp_path: Path) -> Path:
    """The user's file, on the machine that submits it."""
    path = tmp_path / "alice" / NAME
    path.parent.mkdir(parents=True)
    path.write_text("# Harbour\n\nThe tide tables are printed each spring for the fishing fleet.\n")
    return path


def test_a_failed_staged_file_is_retried_from_a_home_that_shares_only_the_store(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = _original(tmp_path)
    reference = staging.stage([original], get_settings(), force=True).paths[0]
    home_a, home_b = tmp_path / "home-a", tmp_path / "home-b"

    # worker A runs the job with a text limit too small for the file: a classified failure
    monkeypatch.setenv("INLET_HOME", str(home_a))
    first = ingest_flow(
        [reference], collection="c", settings=get_settings(max_bytes_text=16), job_id="staged-1"
    )
    assert first["status"] == "failed"
    [source] = first["sources"]
    assert (source["file"], source["error"]["class"]) == (NAME, "too_large")
    # what the job records is A's copy, under the user's file name
    assert source["path"] == str(home_a / "cache" / "inputs" / hash_file(original) / NAME)
    shown = analytics.job_sources(get_settings(), "staged-1")
    assert shown.select("file", "status", "error_class").rows() == [(NAME, "failed", "too_large")]
    # and what a retry submits is the reference every worker can read
    assert analytics.failed_paths(get_settings(), "staged-1") == {"c": [reference]}

    # machine A is gone; B shares only the store, and has the default limits
    shutil.rmtree(home_a)
    monkeypatch.setenv("INLET_HOME", str(home_b))
    report = retry_failed_flow(job_id="staged-1")
    assert list(report["jobs"].values()) == ["completed"]
    [retry_job] = report["jobs"]
    settings = get_settings()
    assert analytics.failed_paths(settings, "staged-1") == {}  # ingested by a later job
    assert analytics.job_sources(settings, retry_job)["file"].to_list() == [NAME]
    store_b = Store(settings)
    assert store_b.source_rows("c")["file"].to_list() == [NAME]
    hits = search(store_b, "fishing fleet", None, mode="text", collection="c")
    assert hits["file"][0] == NAME

    import inlet

    assert inlet.show(NAME, home=home_b)["file"] == NAME


def test_a_retry_after_the_maintenance_deleted_the_input_asks_for_the_file_again(
    store: str, tmp_path: Path
) -> None:
    original = _original(tmp_path)
    settings = get_settings()
    reference = staging.stage([original], settings, force=True).paths[0]
    first = ingest_flow(
        [reference], collection="c", settings=get_settings(max_bytes_text=16), job_id="staged-2"
    )
    assert first["status"] == "failed"
    assert (settings.cache_dir / "inputs" / hash_file(original) / NAME).is_file()  # this worker's copy

    # ten days later the maintenance (on another machine) deletes the input: its job has ended
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=10)
    assert staging.expire(get_settings(home=tmp_path / "maintenance-home"), at=later).removed == 1

    # the retry fails it as not_found, also on this worker, which still had a copy
    report = retry_failed_flow(job_id="staged-2")
    assert list(report["jobs"].values()) == ["failed"]
    [retry_job] = report["jobs"]
    errors = analytics.errors(settings, retry_job)
    assert errors["class"].to_list() == ["not_found"]
    assert "submit the file again" in errors["hint"][0]
    assert analytics.job_sources(settings, retry_job)["file"].to_list() == [NAME]
    assert not (settings.cache_dir / "inputs" / hash_file(original)).exists()

    # submitted again, the file is staged anew and ingested
    again = staging.stage([original], settings, force=True)
    assert (again.sent, again.paths) == (1, [reference])
    assert ingest_flow(again.paths, collection="c", settings=settings)["status"] == "completed"
    assert analytics.failed_paths(settings, "staged-2") == {}

    # the maintenance flow reports on the inputs beside its other parts: this one was staged just now
    report = maintenance_flow()
    assert report["inputs"] == {"removed": 0, "bytes": 0, "kept": 1, "needed": 0}
