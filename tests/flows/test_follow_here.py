"""A process that runs a job and follows it too (the local worker following a job for its
submitter) learns the job's end from memory: it does not read the jobs table while the job
runs, and it hands back the very summary a reader of the table would get."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

import flows.submit
from flows.follow import follow
from flows.job import JobRun, SourceOutcome, jobs_here
from pipelines.config import get_settings


def test_a_job_that_ends_here_gives_the_summary_a_reader_of_its_row_gets(tmp_path: Path) -> None:
    settings = get_settings(home=str(tmp_path / "home"))
    job = JobRun("here00000001", "notes", settings)
    assert jobs_here.running(job.job_id) and jobs_here.ended(job.job_id) is None
    job.add(SourceOutcome(path=str(tmp_path / "a.txt"), file="a.txt", status="ingested", chunks=3))
    job.record_end()

    assert not jobs_here.running(job.job_id)
    from_memory = jobs_here.ended(job.job_id)
    assert from_memory is not None and from_memory == flows.submit.result(settings, job.job_id)
    assert from_memory["status"] == "completed" and from_memory["chunks_written"] == 3
    assert list(follow(settings, job.job_id, progress=False, revive=False)) == [{"result": from_memory}]


def test_following_a_job_that_runs_here_reads_the_jobs_table_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = get_settings(home=str(tmp_path / "home"))
    reads: list[float] = []
    real = flows.submit.result

    def counted(settings: Any, job_id: str) -> Any:
        reads.append(time.monotonic())
        return real(settings, job_id)

    monkeypatch.setattr(flows.submit, "result", counted)
    job = JobRun("here00000002", "notes", settings)
    job.record_job("running")  # the table changes while the job runs: no reason to read it
    events: list[dict[str, Any]] = []
    follower = threading.Thread(
        target=lambda: events.extend(follow(settings, job.job_id, progress=False, revive=False))
    )
    follower.start()
    for _ in range(5):
        time.sleep(0.2)
        job.record_job("running", n_sources=1)
    job.record_end()
    follower.join(timeout=10)

    assert not follower.is_alive()
    assert events[-1]["result"]["job_id"] == job.job_id and events[-1]["result"]["status"] == "completed"
    assert len(reads) == 1  # its first look only; the end came from memory
