"""A job that hangs: requeued once, then its hung file fails as ``stuck``, and the worker goes on.

The local worker of embedded mode, for real (started on demand by the submit, its own Prefect
server), with a small ``INLET_STUCK_JOB_AFTER_S``. One file of the job blocks in its extraction
without an event (the ``hang`` fault, as work hung in native code would); the other file is read
and indexed meanwhile. The worker's watchdog requeues the job and restarts the worker; the job
runs again, skips the file already indexed and hangs again on the same file; the watchdog then
fails that file as ``stuck``, ends the job, and the restarted worker runs the next job.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import pytest

import inlet
from flows.local_worker import stop_worker
from flows.submit import api, job_row
from pipelines import analytics
from pipelines.config import get_settings

# ``embedder``: the embedding model is exported once into the session's models folder before the
# worker starts, so the worker only loads it (an export on a loaded machine takes minutes, and a
# model load writes no event).
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("embedder")]

BIN = Path(sys.executable).parent
STUCK_AFTER_S = 30
"""Long enough for the worker to load the embedding model on a loaded machine."""


def note(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_a_hung_job_is_requeued_once_then_its_hung_file_fails_as_stuck_and_the_worker_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client

    monkeypatch.setenv("INLET_STUCK_JOB_AFTER_S", str(STUCK_AFTER_S))
    monkeypatch.setenv("INLET_STUCK_REQUEUES", "1")
    monkeypatch.setenv("INLET_FAULT_INJECTION", "extract:hang:hangs.txt")
    monkeypatch.setenv("INLET_SMALL_FILE_BATCH", "1")  # each file in a task of its own
    monkeypatch.setenv("INLET_INDEX_EVERY_S", "0.01")  # a file read is indexed at once
    settings = get_settings()
    folder = tmp_path / "in"
    note(folder, "fine.txt", "The lighthouse keeper counted seventeen ships in the morning fog.")
    note(folder, "hangs.txt", "This file is never read: its extraction hangs every time.")
    try:
        job_id = inlet.submit([folder], "stuck", settings=settings)
        summary = inlet.wait(job_id, progress=False, timeout=900, settings=settings)
        after = inlet.submit([note(tmp_path / "next", "next.txt", "The night ferry left at eleven.")],
                             "stuck", settings=settings)  # fmt: skip
        assert inlet.wait(after, progress=False, timeout=600, settings=settings)["status"] == "completed"
        with api(settings), get_client(sync_client=True) as client:
            state = client.read_flow_run(UUID(job_row(settings, job_id)["flow_run_id"])).state
        cli_env = {**os.environ, "INLET_HOME": str(settings.home)}
        shown = subprocess.run([str(BIN / "inlet"), "jobs"], capture_output=True, text=True, env=cli_env,
                               timeout=120)  # fmt: skip
        told = subprocess.run([str(BIN / "inlet"), "errors", "--class", "stuck", "--json"], capture_output=True,
                              text=True, env=cli_env, timeout=120)  # fmt: skip
    finally:
        stop_worker(settings)
    log = (settings.home / "logs" / "worker.log").read_text()

    # The job: its good file ingested, the hung one failed as stuck, after one requeue.
    assert summary["status"] == "partially_failed", summary
    by_file = {s["file"]: s for s in summary["sources"]}
    assert by_file["fine.txt"]["status"] == "ingested" and by_file["fine.txt"]["chunks"] >= 1
    assert by_file["hangs.txt"]["status"] == "failed"
    assert by_file["hangs.txt"]["error"]["class"] == "stuck", by_file["hangs.txt"]
    assert log.count(f"job {job_id} (flow run") == 2, log[-4000:]
    assert "requeued (1 of 1), the worker restarts" in log, log[-4000:]
    assert "is stuck again" in log and "1 unfinished sources failed as stuck" in log, log[-4000:]
    starts = analytics.query(
        settings,
        "SELECT count(*) AS n FROM events WHERE job_id = ? AND file = 'hangs.txt' AND stage = 'extract' "
        "AND event = 'start'",
        [job_id],
    )["n"][0]
    assert starts == 2  # it ran twice: once, then once more after its requeue

    # Visible where users look: the jobs list (library and CLI), the errors, Prefect's run.
    row = inlet.jobs(job_id=job_id, settings=settings).row(0, named=True)
    assert (row["status"], row["requeues"], row["stuck"], row["failed"]) == ("partially_failed", 1, False, 1)
    assert shown.returncode == 0, shown.stderr[-3000:]
    lines = {line.split()[0]: line for line in shown.stdout.splitlines()}
    assert "requeued 1x (stuck)" in lines[job_id] and "requeued" not in lines[after], shown.stdout
    assert told.returncode == 0, told.stderr[-3000:]
    assert [(e["class"], e["file"], e["job_id"]) for e in json.loads(told.stdout)["errors"]] == [
        ("stuck", "hangs.txt", job_id)]  # fmt: skip
    errors = inlet.errors(job_id, settings=settings)
    assert errors.select("class", "file", "stage", "retryable").rows() == [
        ("stuck", "hangs.txt", "extract", False)
    ]
    assert "worker.log" in errors["hint"][0] and "INLET_TIMEOUT_" in errors["hint"][0]
    assert state is not None and state.is_failed(), state

    # What was done stays searchable; the next job ran on the restarted worker.
    hits = inlet.search(
        "lighthouse keeper seventeen ships", mode="text", collection="stuck", settings=settings
    )
    assert "fine.txt" in hits["file"].to_list()
    assert (
        inlet.search("night ferry", mode="text", collection="stuck", settings=settings)["file"][0]
        == "next.txt"
    )
