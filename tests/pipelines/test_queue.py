"""The local job queue and the stage deadlines: plain files and processes, no Prefect."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from pipelines.config import get_settings
from pipelines.deadline import check, deadline
from pipelines.errors import StageTimeout
from pipelines.queue import JobQueue, JobRequest, WorkerLock, check_priority


def submit(queue: JobQueue, priority: str, name: str) -> str:
    job = JobRequest(paths=[f"/data/{name}"], collection="c", priority=priority)
    time.sleep(0.002)  # distinct submission times
    return queue.submit(job)


def test_jobs_are_claimed_high_first_then_oldest_first() -> None:
    queue = JobQueue(get_settings())
    low1 = submit(queue, "low", "a")
    normal = submit(queue, "normal", "b")
    high = submit(queue, "high", "c")
    low2 = submit(queue, "low", "d")
    assert [j.job_id for j in queue.pending()] == [high, normal, low1, low2]
    claimed = [queue.claim().job_id for _ in range(4)]
    assert claimed == [high, normal, low1, low2]
    assert queue.claim() is None
    assert queue.state(high) == "running"


def test_a_job_is_claimed_once_even_by_competing_processes() -> None:
    settings = get_settings()
    queue = JobQueue(settings)
    ids = {submit(queue, "normal", str(i)) for i in range(20)}
    script = (
        "import json; from pipelines.config import get_settings; from pipelines.queue import JobQueue\n"
        "q = JobQueue(get_settings()); got = []\n"
        "while (j := q.claim()) is not None: got.append(j.job_id)\n"
        "print(json.dumps(got))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(3)
    ]
    claimed = [job for p in procs for job in json.loads(p.communicate(timeout=60)[0])]
    assert sorted(claimed) == sorted(ids)  # every job once, none twice


def test_a_job_left_by_a_dead_worker_goes_back_to_its_place() -> None:
    queue = JobQueue(get_settings())
    first = submit(queue, "high", "a")
    submit(queue, "low", "b")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert queue.claim(pid=dead.pid).job_id == first
    assert queue.recover() == [first]
    assert queue.claim().job_id == first  # still ahead of the low job
    assert queue.recover() == []  # claimed by this live process


def test_cancel_marks_and_dequeue() -> None:
    queue = JobQueue(get_settings())
    waiting = submit(queue, "normal", "a")
    assert queue.dequeue(waiting).job_id == waiting
    assert queue.state(waiting) is None and queue.dequeue(waiting) is None
    running = submit(queue, "normal", "b")
    queue.claim()
    queue.request_cancel(running)
    assert queue.cancel_requested(running)
    queue.finish(running, {"job_id": running, "status": "cancelled"})
    assert not queue.cancel_requested(running) and queue.result(running)["status"] == "cancelled"


def test_one_worker_lock_per_home() -> None:
    settings = get_settings()
    mine = WorkerLock(settings)
    assert mine.acquire()
    other = subprocess.run(
        [sys.executable, "-c",
         "from pipelines.config import get_settings; from pipelines.queue import WorkerLock;"
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


def test_running_jobs_and_old_results_are_the_queue_s_to_tell() -> None:
    """Maintenance asks the queue which paths running jobs hold and which summaries are old; it
    knows nothing of the queue's folders."""
    import os

    queue = JobQueue(get_settings())
    first, second = submit(queue, "normal", "a"), submit(queue, "normal", "b")
    assert [j.job_id for j in queue.running()] == []
    claimed = queue.claim()
    assert [(j.job_id, j.paths) for j in queue.running()] == [(claimed.job_id, ["/data/a"])]
    queue.finish(first, {"status": "completed"})
    queue.finish(second, {"status": "completed"})
    old = queue.root / "done" / f"{first}.json"
    os.utime(old, (time.time() - 3 * 86400,) * 2)
    assert queue.prune_results(2 * 86400) == 1
    assert queue.result(first) is None and queue.result(second) == {"status": "completed"}
    assert queue.running() == []
