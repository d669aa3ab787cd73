"""Four writer processes, a reader polling every 100 ms and a compactor share one home: no
process sees a lock error (or any error), the reader's counts never go back, and every event
written is found afterwards, exactly once."""

from __future__ import annotations

import json
import multiprocessing as mp
import multiprocessing.synchronize
import random
import time
import traceback
from pathlib import Path

import pytest

SECONDS = 20.0
WRITERS = 4


def _wait(start: mp.synchronize.Barrier) -> float:
    """Every process starts its clock once all of them have imported everything."""
    start.wait(timeout=120)
    return time.time() + SECONDS


def _writer(home: str, number: int, start: mp.synchronize.Barrier, out: str) -> None:
    from pipelines import analytics
    from pipelines.config import get_settings

    settings = get_settings(home=home)
    until = _wait(start)
    rng = random.Random(number)
    written, errors = 0, []
    job = f"job-{number}"
    try:
        analytics.record(settings, "jobs", [{"job_id": job, "status": "running", "collection": "load",
                                             "priority": "normal", "submitted_at": analytics.now()}])  # fmt: skip
        while time.time() < until:
            batch = [
                {"job_id": job, "source_id": f"w{number}-{written + i}", "kind": "text", "stage": "embed",
                 "event": "end", "duration_s": rng.random(), "chunks": 1}
                for i in range(rng.randint(1, 5))
            ]  # fmt: skip
            analytics.record(settings, "events", batch)
            written += len(batch)
            time.sleep(rng.uniform(0.01, 0.04))
    except Exception:  # noqa: BLE001 - every error is the test's business
        errors.append(traceback.format_exc())
    Path(out).write_text(json.dumps({"written": written, "errors": errors}))


def _reader(home: str, start: mp.synchronize.Barrier, out: str) -> None:
    from pipelines import analytics
    from pipelines.config import get_settings

    settings = get_settings(home=home)
    until = _wait(start)
    polls, errors, counts, seconds = 0, [], [], []
    while time.time() < until:
        started = time.time()
        try:
            counts.append(analytics.query(settings, "SELECT count(*) FROM events").item())
            analytics.jobs(settings, limit=20)
            polls += 1
            seconds.append(time.time() - started)
        except Exception:  # noqa: BLE001
            errors.append(traceback.format_exc())
        time.sleep(max(0.0, 0.1 - (time.time() - started)))
    backwards = sum(b < a for a, b in zip(counts, counts[1:], strict=False))
    median = sorted(seconds)[len(seconds) // 2] if seconds else None
    Path(out).write_text(
        json.dumps({"polls": polls, "errors": errors, "backwards": backwards, "median_s": median})
    )


def _compactor(home: str, start: mp.synchronize.Barrier, out: str) -> None:
    from pipelines import analytics
    from pipelines.config import get_settings

    settings = get_settings(home=home)
    until = _wait(start)
    runs, errors, folded = 0, [], 0
    while time.time() < until:
        try:
            report = analytics.compact(settings, below_bytes=1 << 20)
            folded += report.get("events", {}).get("rows", 0)
            runs += 1
        except Exception:  # noqa: BLE001
            errors.append(traceback.format_exc())
        time.sleep(1.0)
    Path(out).write_text(json.dumps({"runs": runs, "errors": errors, "folded": folded}))


@pytest.mark.slow
def test_writers_reader_and_compaction_share_a_home_without_errors_or_lost_events(tmp_path: Path) -> None:
    from pipelines import analytics
    from pipelines.config import get_settings

    home = tmp_path / "home"
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(WRITERS + 3)
    outs = {
        name: tmp_path / f"{name}.json"
        for name in [*(f"w{i}" for i in range(WRITERS)), "reader", "compactor"]
    }
    procs = [
        ctx.Process(target=_writer, args=(str(home), i, start, str(outs[f"w{i}"]))) for i in range(WRITERS)
    ]
    procs += [
        ctx.Process(target=_reader, args=(str(home), start, str(outs["reader"]))),
        ctx.Process(target=_compactor, args=(str(home), start, str(outs["compactor"]))),
    ]
    for p in procs:
        p.start()
    start.wait(timeout=120)
    for p in procs:
        p.join(timeout=SECONDS + 60)
        assert p.exitcode == 0, p
    results = {name: json.loads(path.read_text()) for name, path in outs.items()}
    assert not [e for r in results.values() for e in r["errors"]], results
    written = sum(results[f"w{i}"]["written"] for i in range(WRITERS))
    reader, compactor = results["reader"], results["compactor"]
    print(
        f"written {written} events; reader polls {reader['polls']} (median {reader['median_s']:.3f} s); "
        f"compactions {compactor['runs']} folding {compactor['folded']} rows"
    )
    # Polls run back to back once a poll takes over 100 ms (a loaded 2-core machine); they must keep going.
    assert written > 1000 and reader["polls"] >= 20 and compactor["runs"] >= 3
    assert compactor["folded"] > 0 and reader["backwards"] == 0
    settings = get_settings(home=home)
    found = analytics.query(settings, "SELECT count(*) AS n, count(DISTINCT source_id) AS d FROM events").row(
        0
    )
    assert found == (written, written)
    analytics.compact(settings)
    assert analytics.query(settings, "SELECT count(*) FROM events").item() == written
    assert len(analytics.live_files(settings, "events")) == 1
