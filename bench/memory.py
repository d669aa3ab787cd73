"""Memory of the worker against the size of the corpus: does ten times the files need more?

It prints figures; it is not a test. For each corpus size (``--docs`` files, then ``--factor``
times as many), in a fresh home: the files go through ``inlet.ingest`` as a user sends them (one
job to the local worker, which starts with it), and when the job has ended the worker's peak
resident memory is read from ``/proc/<pid>/status`` (``VmHWM``: the high-water mark of the whole
process, models included) before the worker is stopped. The largest ``peak_mb`` the job's
events recorded for one source is printed beside it (the engine's own measure per stage).

The target (issue: memory flat in corpus size) is a ratio of at most 1.25 between the largest
and the smallest corpus.

The corpus is SciFact abstracts (``../shared/data/retrieval/scifact``, one ``.txt`` each) or,
with ``--folder``, the files of any folder (walked recursively, sorted by name; the first
``--docs`` and ``--docs * --factor`` of them).

    .venv/bin/python bench/memory.py                          # 200 and 2,000 SciFact abstracts
    .venv/bin/python bench/memory.py --docs 50 --factor 10 --folder ~/notes
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _write_scifact(folder: Path, n_docs: int) -> int:
    spec = importlib.util.spec_from_file_location("bench_ingest", ROOT / "bench" / "ingest.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    written: int = module.write_corpus(folder, n_docs)
    return written


def _copy_from(source: Path, folder: Path, n_docs: int) -> int:
    files = sorted(p for p in source.rglob("*") if p.is_file())[:n_docs]
    folder.mkdir(parents=True)
    for i, path in enumerate(files):
        shutil.copy(path, folder / f"{i:06d}-{path.name}")
    return len(files)


def peak_mb(pid: int) -> float:
    """The high-water mark of ``pid``'s resident memory, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def measure(folder: Path, home: Path) -> dict[str, Any]:
    import inlet
    from flows.local_worker import stop_worker
    from pipelines import analytics
    from pipelines.config import get_settings

    settings = get_settings(home=home)
    started = time.perf_counter()
    summary = inlet.ingest([folder], collection="memory", progress=False, home=home)
    wall = time.perf_counter() - started
    pid = inlet.status(home=home)["worker_pid"]
    if pid is None:
        raise RuntimeError("the local worker is gone before its memory could be read")
    worker_peak = peak_mb(pid)
    events = analytics.query(
        settings, "SELECT max(peak_mb) AS m FROM events WHERE job_id = ?", [summary["job_id"]]
    )
    stop_worker(settings)
    return {
        "files": len(summary["sources"]),
        "status": summary["status"],
        "chunks": summary["chunks_written"],
        "seconds": round(wall, 1),
        "worker_peak_mb": round(worker_peak, 1),
        "largest_stage_peak_mb": events["m"][0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=200, help="files in the small corpus (default 200)")
    parser.add_argument("--factor", type=int, default=10, help="the large corpus is this many times larger")
    parser.add_argument("--folder", type=Path, help="take the files from this folder instead of SciFact")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line last")
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory(prefix="inlet-memory-") as tmp:
        for n in (args.docs, args.docs * args.factor):
            folder = Path(tmp) / f"docs-{n}"
            if args.folder:
                written = _copy_from(args.folder.expanduser(), folder, n)
            else:
                written = _write_scifact(folder, n)
            load = os.getloadavg()[0]
            row = {"asked": n, "written": written, **measure(folder, Path(tmp) / f"home-{n}"), "load1": load}
            rows.append(row)
            print(
                f"{row['files']:>6} files {row['chunks']:>7} chunks {row['seconds']:>7.1f} s  "
                f"worker peak {row['worker_peak_mb']:>7.1f} MB  largest stage peak "
                f"{row['largest_stage_peak_mb'] or 0:>7.1f} MB  ({row['status']}, load {load:.1f})",
                flush=True,
            )
    ratio = rows[1]["worker_peak_mb"] / rows[0]["worker_peak_mb"]
    print(f"worker peak memory, {args.factor}x the corpus: {ratio:.2f}x (target <= 1.25x)")
    if args.json:
        print(json.dumps({"rows": rows, "ratio": round(ratio, 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
