"""Analytics store: events per second one writer sustains, and what dashboard queries cost
at N events (default 1 million), next to raw DuckDB doing the same count over the same files.

    .venv/bin/python bench/analytics.py               # 1,000,000 events
    .venv/bin/python bench/analytics.py --events 200000 --seconds 3

Prints: ``record()`` rate with 1 and 50 events per call (one file per call, as the flows
write), then for a home holding N events over 10,000 jobs, before and after compaction:
``jobs()`` (the dashboard's job list with progress), ``job_sources()``, ``statistics()``,
and a raw ``SELECT count(*)`` with DuckDB over the same files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from pipelines import analytics
from pipelines.config import get_settings


def writer_rate(home: Path, per_call: int, seconds: float) -> float:
    settings = get_settings(home=home)
    row = {"job_id": "bench", "source_id": "s", "kind": "pdf", "stage": "extract", "event": "end",
           "duration_s": 0.5, "pages": 3}  # fmt: skip
    written, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        analytics.record(settings, "events", [row] * per_call)
        written += per_call
    return written / (time.perf_counter() - start)


def generate(home: Path, n_events: int, n_jobs: int = 10_000, files: int = 8) -> None:
    """``n_events`` stage events over ``n_jobs`` jobs, written as a few big files (and job rows)."""
    settings = get_settings(home=home)
    rng = np.random.default_rng(0)
    stages = ["validate", "extract", "chunk", "embed", "index"]
    per_source = len(stages)
    n_sources = n_events // per_source
    start = analytics.now() - dt.timedelta(hours=6)
    job_of = rng.integers(0, n_jobs, n_sources)
    kinds = rng.choice(["pdf", "text", "audio"], n_sources)
    for part in np.array_split(np.arange(n_sources), files):
        src = np.repeat(part, per_source)
        frame = pl.DataFrame({
            "job_id": [f"job{j:05d}" for j in job_of[src]],
            "collection": "bench",
            "source_id": [f"src{s:07d}" for s in src],
            "kind": kinds[src],
            "stage": np.tile(stages, len(part)),
            "event": "end",
            "attempt": 1,
            "duration_s": rng.gamma(2.0, 0.5, len(src)),
            "pages": rng.integers(1, 40, len(src)),
            "chunks": rng.integers(1, 30, len(src)),
            "at": [start + dt.timedelta(seconds=float(s) / 50) for s in src],
        })  # fmt: skip
        analytics.write_frame(settings, "events", frame)
    jobs = pl.DataFrame({
        "job_id": [f"job{j:05d}" for j in range(n_jobs)], "collection": "bench", "priority": "normal",
        "status": ["running" if j % 10 == 0 else "completed" for j in range(n_jobs)],
        "submitted_at": [start + dt.timedelta(seconds=j) for j in range(n_jobs)],
        "started_at": [start + dt.timedelta(seconds=j) for j in range(n_jobs)],
        "at": [start + dt.timedelta(seconds=j) for j in range(n_jobs)],
    })  # fmt: skip
    analytics.write_frame(settings, "jobs", jobs)


def timed(fn, repeat: int = 3) -> float:  # noqa: ANN001
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def dashboard_costs(home: Path) -> dict[str, float]:
    settings = get_settings(home=home)
    files = [str(p) for p in analytics.live_files(settings, "events")]
    return {
        "jobs() 50 newest, with progress": timed(lambda: analytics.jobs(settings, limit=50)),
        "jobs(status=running) all": timed(lambda: analytics.jobs(settings, status="running", limit=10_000)),
        "job_sources(one job)": timed(lambda: analytics.job_sources(settings, "job00042")),
        "statistics()": timed(lambda: analytics.statistics(settings), repeat=1),
        "raw DuckDB count(*) same files": timed(
            lambda: duckdb.sql(f"SELECT count(*) FROM read_parquet({files})").fetchall()
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="how long each writer run lasts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="inlet-bench-") as tmp:
        base = Path(tmp)
        for per_call in (1, 50):
            rate = writer_rate(base / f"w{per_call}", per_call, args.seconds)
            print(
                f"one writer, {per_call:>2} event(s) per record(): {rate:,.0f} events/s ({rate / per_call:,.0f} files/s)"
            )
        home = base / "big"
        t = time.perf_counter()
        generate(home, args.events)
        settings = get_settings(home=home)
        print(f"\ngenerated {args.events:,} events over 10,000 jobs in {time.perf_counter() - t:.1f} s "
              f"({len(analytics.live_files(settings, 'events'))} files)")  # fmt: skip
        for name, seconds in dashboard_costs(home).items():
            print(f"  {name:<34} {seconds * 1000:8.0f} ms")
        # Add 2,000 small files, as writers would between compactions, then compact.
        for i in range(2000):
            analytics.record(settings, "events", [{"job_id": f"job{i % 10_000:05d}", "source_id": f"x{i}",
                                                    "kind": "text", "stage": "embed", "event": "end"}])  # fmt: skip
        print(f"\nwith 2,000 more small files ({len(analytics.live_files(settings, 'events'))} files):")
        for name, seconds in dashboard_costs(home).items():
            print(f"  {name:<34} {seconds * 1000:8.0f} ms")
        t = time.perf_counter()
        report = analytics.compact(settings)
        print(f"\ncompaction: {report['events']} in {time.perf_counter() - t:.1f} s")
        for name, seconds in dashboard_costs(home).items():
            print(f"  {name:<34} {seconds * 1000:8.0f} ms")


if __name__ == "__main__":
    main()
