"""Jobs submitted all at once: how long each submit waits, with the local Prefect server as inlet
runs it (SQLite transactions begun IMMEDIATE, ``flows._prefect_server``) and as Prefect ships it.

It prints figures; it is not a test. For each server variant, in a fresh home: one warm-up job
(starts the local worker and its server, loads the model), then ``--jobs`` one-file jobs submitted
at the same moment from as many threads of one process (as an HTTP API receiving a burst of
uploads does), each waited for. Printed per variant: submit latency p50 and max, the time until
every job was submitted and until every job ended, and how many ``database is locked`` errors the
server logged. The variants run in turn in one run; their ratio is printed.

    python bench/submit_burst.py [--jobs 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

VARIANTS = {"inlet (immediate)": "immediate", "prefect as shipped (deferred)": "deferred"}


def one(jobs: int) -> dict[str, float]:
    """Run in a child process per variant: the burst against a fresh home."""
    import inlet
    from flows.local_worker import stop_worker
    from pipelines.config import get_settings

    settings = get_settings()
    folder = settings.home.parent / "in"
    folder.mkdir(parents=True, exist_ok=True)

    def note(i: int) -> Path:
        path = folder / f"note-{i}.md"
        path.write_text(f"# Note {i}\n\nField note {i}: the heron{i} stood in the reeds at dawn.\n")
        return path

    try:
        warm = inlet.submit([note(-1)], "burst", settings=settings)
        inlet.wait(warm, progress=False, timeout=900, settings=settings)
        paths = [note(i) for i in range(jobs)]
        barrier = threading.Barrier(jobs)

        def submit(i: int) -> tuple[str, float]:
            barrier.wait()
            start = time.perf_counter()
            job_id = inlet.submit([paths[i]], "burst", settings=settings)
            return job_id, time.perf_counter() - start

        start = time.perf_counter()
        with ThreadPoolExecutor(jobs) as pool:
            submitted = list(pool.map(submit, range(jobs)))
        all_submitted = time.perf_counter() - start
        ends = [
            inlet.wait(j, progress=False, timeout=1800, settings=settings)["status"] for j, _ in submitted
        ]
        all_done = time.perf_counter() - start
    finally:
        stop_worker(settings)
    waits = sorted(s for _, s in submitted)
    server_log = (settings.home / "logs" / "prefect-server.log").read_text(errors="replace")
    return {
        "p50": statistics.median(waits),
        "max": waits[-1],
        "submitted": all_submitted,
        "done": all_done,
        "completed": float(ends.count("completed")),
        "locked": float(server_log.count("database is locked")),
        "load": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=30, help="one-file jobs submitted at once (default 30)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        import json

        print(json.dumps(one(args.jobs)))
        return
    import json

    figures = {}
    for name, mode in VARIANTS.items():
        with tempfile.TemporaryDirectory(prefix="inlet-burst-") as tmp:
            env = {**os.environ, "INLET_HOME": str(Path(tmp) / "home"), "INLET_PREFECT_SQLITE_BEGIN": mode,
                   "PREFECT_API_LOG_RETRYABLE_ERRORS": "true"}  # fmt: skip
            out = subprocess.run([sys.executable, __file__, "--jobs", str(args.jobs), "--child", mode],
                                 env=env, capture_output=True, text=True, check=True)  # fmt: skip
            figures[name] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{args.jobs} one-file jobs submitted at once from {args.jobs} threads of one process\n")
    print(f"{'server':32} {'submit p50':>10} {'max':>8} {'all submitted':>14} {'all done':>9} {'completed':>9} "
          f"{'db locked':>9} {'load1':>6}")  # fmt: skip
    for name, f in figures.items():
        print(f"{name:32} {f['p50']:9.2f}s {f['max']:7.2f}s {f['submitted']:13.1f}s {f['done']:8.1f}s "
              f"{int(f['completed']):>9} {int(f['locked']):>9} {f['load']:6.1f}")  # fmt: skip
    a, b = figures.values()
    print(
        f"\nsubmit p50 ratio inlet/prefect: {a['p50'] / b['p50']:.2f}; all done: {a['done'] / b['done']:.2f}"
    )


if __name__ == "__main__":
    main()
