"""Job requests, the one-worker-per-home lock and the stage deadlines: no Prefect."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from flows.worker_lock import WorkerLock
from pipelines.config import get_settings
from pipelines.deadline import check, deadline
from pipelines.errors import StageTimeout
from pipelines.queue import JobRequest, check_priority


def test_one_worker_lock_per_home() -> None:
    settings = get_settings()
    mine = WorkerLock(settings)
    assert mine.acquire()
    other = subprocess.run(
        [sys.executable, "-c",
         "from pipelines.config import get_settings; from flows.worker_lock import WorkerLock;"
         "print(WorkerLock(get_settings()).acquire())"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert other.stdout.strip() == "False"
    assert WorkerLock(settings).holder() is not None
    mine.release()
    assert not WorkerLock(settings).held()


def test_an_unknown_priority_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="high, normal, low"):
        check_priority("urgent")


def test_a_deadline_fires_inside_the_block_only() -> None:
    check()  # no deadline: nothing happens
    with deadline(0.05, stage="transcribe"):
        check()
        time.sleep(0.06)
        with pytest.raises(StageTimeout, match="transcribe ran past its time limit of 0.05 s"):
            check()
    check()


def test_a_request_carries_what_the_worker_needs_and_reads_back() -> None:
    request = JobRequest(
        paths=["/data/a.pdf"], collection="c", priority="high", settings={"chunk_tokens": 128}
    )
    again = JobRequest.from_json(json.dumps(request.__dict__))
    assert again == request and len(request.job_id) == 12
