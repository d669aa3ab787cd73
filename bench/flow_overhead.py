"""Flow overhead benchmark: what Prefect costs inlet per task, per flow run and per ingest.

It prints figures; it is not a test. In ONE process, with Prefect in ephemeral mode (embedded
mode's set-up: a local API server subprocess, SQLite under a temporary ``PREFECT_HOME``):

**(a) Per-task overhead and the fixed cost of a flow run.**

* ``plain``: ``N`` calls of a no-op Python function, no Prefect.
* ``flow, 0 tasks``: a flow whose body does nothing; its whole wall time (call to return,
  including the flow's tail: final state, heartbeat thread join, event flush) is the **fixed
  cost of one flow run**.
* ``flow, N tasks``: a flow that calls the same no-op as a Prefect task ``N`` times in order
  (``cache_policy=NO_CACHE``, as inlet's tasks); per task = (whole flow − fixed cost) / N. The
  body alone (timed inside the flow) and the tail are printed too.
* ``flow, N submits``: the same tasks ``.submit()``-ted to a ``ThreadPoolTaskRunner`` of 2
  threads (as the ingest flow's extract tasks) and waited for.

  Each flow is run ``--repeats`` times, interleaved; figures are medians. The first flow of the
  process (server start, database creation) is reported on its own and counted nowhere else.

**(b) The real ingest**, of ``samples/corpus`` (3 PDFs, a WAV recording, Markdown) plus
``--docs`` SciFact abstracts written one ``.txt`` each (as ``bench/ingest.py`` does), into
collection ``bench``, through ``flows.ingest.ingest_flow``:

* ``cold``: a fresh home (no LanceDB tables, no extraction or vector cache); models already
  exported and loaded in this process by a warm-up ingest of three small files into another
  home (so neither figure below includes model loading).
* ``warm re-run``: the same ingest again in the same home: every source is unchanged.
* ``engine only, cold``: the same work by calling the engine's stages directly, no Prefect:
  ``discover``, ``Store.source_map``, ``inspect`` per file, extraction (``pipelines.cache`` then
  ``pipelines.extract.extract``), one ``pipelines.index.index_sources`` over all extractions,
  ``pipelines.search.refresh``, in another fresh home. Sequential (the flow extracts on 2 threads).
* ``engine only, warm``: ``discover``, ``source_map`` and ``inspect`` of every file in the
  home of the cold run (what an unchanged re-run must do).

  The flow's own analytics writes (``pipelines.analytics.record``: job rows, stage events) are
  timed by a thin wrapper and shown apart: they are inlet's bookkeeping, not Prefect's.
  **Orchestration share** = (flow − engine − analytics writes) / flow.

**(c) Jobs, as a user submits them** (``--jobs N``): ``inlet.submit`` of a one-file job
(a short distinct text each time) into a fresh home, then ``inlet.wait``, ``N + 1`` times in a
row. The first job starts the local worker (and whatever it starts); the others find it warm.
Per job: the submit call, **submit -> start** (the job's ``started_at`` minus its
``submitted_at``, both written by inlet) and **submit -> done** (the submitter's wall clock from
calling ``submit`` to ``wait`` returning). The first job is shown apart; the others as medians.
Then the warm worker is left idle for 20 s: the share of one core it and its local Prefect
server use meanwhile is what keeping a worker warm costs the machine.

Each row also gives CPU seconds of this process and its children (Prefect's server) and the
CPU that other processes took meanwhile (% of the machine): on a shared machine that column says
whether a figure can be trusted.

Run from the project folder:

    .venv/bin/python bench/flow_overhead.py                  # ~3-5 min on 2 quiet cores
    .venv/bin/python bench/flow_overhead.py --tasks 200 --repeats 7 --docs 500
    .venv/bin/python bench/flow_overhead.py --skip-ingest    # part (a) only, ~1 min
    .venv/bin/python bench/flow_overhead.py --skip-tasks --skip-ingest --jobs 8   # part (c) only

Everything (corpus, homes, Prefect's database) lives in a temporary folder removed at exit.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipelines.models import offline  # noqa: E402

offline()  # before sentence-transformers, transformers or Prefect are imported

SAMPLES = ROOT / "samples" / "corpus"
COLLECTION = "bench"
WARM_TEXTS = {
    "warm-1.txt": "Warm-up file\n\nThe quick brown fox jumps over the lazy dog near the river bank.",
    "warm-2.txt": "Another warm-up\n\nA short paragraph so that every stage runs once before timing.",
}


def _load_ingest_bench() -> Any:
    """``bench/ingest.py`` as a module (its ``Meter`` and ``write_corpus``)."""
    spec = importlib.util.spec_from_file_location("bench_ingest", ROOT / "bench" / "ingest.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


BENCH_INGEST = _load_ingest_bench()
Meter = BENCH_INGEST.Meter


# --- (a) per-task overhead ------------------------------------------------------------------
def noop(i: int) -> int:
    return i


def measure_tasks(n_tasks: int, repeats: int) -> dict[str, Any]:
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.futures import wait
    from prefect.task_runners import ThreadPoolTaskRunner

    noop_task = task(noop, name="noop", cache_policy=NO_CACHE)

    @flow(name="bench-empty")
    def empty() -> float:
        return 0.0

    @flow(name="bench-calls")
    def calls(n: int) -> float:
        started = time.perf_counter()
        for i in range(n):
            noop_task(i)
        return time.perf_counter() - started

    @flow(name="bench-submits", task_runner=ThreadPoolTaskRunner(max_workers=2))
    def submits(n: int) -> float:
        started = time.perf_counter()
        futures = [noop_task.submit(i) for i in range(n)]
        wait(futures)
        for f in futures:
            f.result()
        return time.perf_counter() - started

    started = time.perf_counter()
    empty()
    first_s = time.perf_counter() - started

    def timed(fn: Callable[..., float], *args: Any) -> tuple[float, float, float]:
        with Meter() as meter:
            body = fn(*args)
        return meter.wall, body, meter.cpu_own + meter.cpu_children

    runs: dict[str, list[tuple[float, float, float]]] = {"empty": [], "calls": [], "submits": []}
    plain: list[float] = []
    for _ in range(repeats):
        runs["empty"].append(timed(empty))
        runs["calls"].append(timed(calls, n_tasks))
        runs["submits"].append(timed(submits, n_tasks))
        began = time.perf_counter()
        for i in range(n_tasks):
            noop(i)
        plain.append(time.perf_counter() - began)

    def median(name: str, index: int) -> float:
        return statistics.median(r[index] for r in runs[name])

    fixed, fixed_cpu = median("empty", 0), median("empty", 2)
    result: dict[str, Any] = {
        "tasks": n_tasks,
        "repeats": repeats,
        "first_flow_s": first_s,
        "plain_call_us": 1e6 * statistics.median(plain) / n_tasks,
        "fixed_flow_s": fixed,
        "fixed_flow_cpu_s": fixed_cpu,
        "fixed_flow_range_s": [min(r[0] for r in runs["empty"]), max(r[0] for r in runs["empty"])],
    }
    for name in ("calls", "submits"):
        whole, body = median(name, 0), median(name, 1)
        result[name] = {
            "flow_s": whole,
            "body_s": body,
            "tail_s": statistics.median(r[0] - r[1] for r in runs[name]),
            "per_task_ms": 1000 * (whole - fixed) / n_tasks,
            "per_task_body_ms": 1000 * body / n_tasks,
            "per_task_cpu_ms": 1000 * (median(name, 2) - fixed_cpu) / n_tasks,
            "range_s": [min(r[0] for r in runs[name]), max(r[0] for r in runs[name])],
        }
    return result


# --- (b) the real ingest --------------------------------------------------------------------
def write_corpus(folder: Path, n_docs: int) -> int:
    """samples/corpus plus ``n_docs`` SciFact abstracts; the number of files."""
    BENCH_INGEST.write_corpus(folder, n_docs)
    for path in SAMPLES.iterdir():
        shutil.copy(path, folder / path.name)
    return sum(1 for _ in folder.iterdir())


class RecordTimer:
    """Times ``pipelines.analytics.record`` (the flow's job and event writes) while installed."""

    def __init__(self) -> None:
        from pipelines import analytics

        self.module, self.original = analytics, analytics.record
        self.seconds, self.calls = 0.0, 0

        @functools.wraps(self.original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return self.original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - began
                self.calls += 1

        analytics.record = timed

    def remove(self) -> None:
        self.module.record = self.original


def run_flow(paths: list[str], home: Path, models: Path, job_id: str) -> dict[str, Any]:
    from flows.ingest import ingest_flow
    from pipelines.config import get_settings

    settings = get_settings(home=home, models_dir=models)
    timer = RecordTimer()
    try:
        with Meter() as meter:
            summary = ingest_flow(paths, collection=COLLECTION, settings=settings, job_id=job_id)
    finally:
        timer.remove()
    statuses: dict[str, int] = {}
    for s in summary["sources"]:
        statuses[s["status"]] = statuses.get(s["status"], 0) + 1
    return {
        "meter": meter,
        "seconds": meter.wall,
        "status": summary["status"],
        "statuses": statuses,
        "chunks": int(summary["chunks_written"]),
        "embedded": int(summary["embedded"]),
        "analytics_s": timer.seconds,
        "analytics_calls": timer.calls,
    }


def run_engine(paths: list[str], home: Path, models: Path) -> dict[str, Any]:
    """The ingest's work through the engine's stages alone, timed per stage."""
    from pipelines import cache
    from pipelines.config import get_settings
    from pipelines.extract import extract
    from pipelines.index import index_sources
    from pipelines.search import refresh
    from pipelines.sources import discover, inspect
    from pipelines.store import Store

    settings = get_settings(home=home, models_dir=models)
    stages: dict[str, float] = {}

    def clock(name: str, began: float) -> float:
        now = time.perf_counter()
        stages[name] = stages.get(name, 0.0) + now - began
        return now

    with Meter() as meter:
        began = time.perf_counter()
        files, _missing = discover(paths)
        store = Store(settings)
        current, _by_path = store.source_map(COLLECTION, settings.chunking_key())
        began = clock("discover + source lookup", began)
        sources = []
        for path in files:
            try:
                sources.append(inspect(path, settings))
            except Exception:  # noqa: BLE001 - the flow skips a rejected file too
                continue
        todo = [s for s in sources if s.source_id not in current]
        began = clock("validate (inspect)", began)
        extractions = []
        for source in todo:
            try:
                extraction = cache.load(source, settings)
                if extraction is None:
                    extraction = extract(source, settings)
                    cache.save(extraction, settings)
            except Exception:  # noqa: BLE001
                continue
            extractions.append(extraction)
        began = clock("extract / transcribe", began)
        result = index_sources(extractions, collection=COLLECTION, settings=settings) if extractions else None
        began = clock("chunk + embed + write", began)
        if result is not None and result.chunks_written:
            refresh(store)
        clock("refresh indexes", began)
    return {
        "meter": meter,
        "seconds": meter.wall,
        "chunks": result.chunks_written if result else 0,
        "sources": len(sources),
        "todo": len(todo),
        "stages": stages,
    }


def measure_ingest(tmp: Path, n_docs: int) -> dict[str, Any]:
    models = tmp / "models"
    corpus, warm = tmp / "corpus", tmp / "warm"
    n_files = write_corpus(corpus, n_docs)
    warm.mkdir()
    for name, text in WARM_TEXTS.items():
        (warm / name).write_text(text, encoding="utf-8")
    shutil.copy(SAMPLES / "jfk_inaugural_excerpt.wav", warm / "warm.wav")  # loads the speech model
    paths = [str(corpus)]

    print(f"  (b) warm-up ingest (model export and loads), then the timed runs over {n_files} files ...")
    began = time.perf_counter()
    warmup = run_flow([str(warm)], tmp / "home-warmup", models, "bench-warmup")
    warmup_s = time.perf_counter() - began
    if warmup["status"] != "completed":
        raise SystemExit(f"warm-up ingest {warmup['status']}")
    cold = run_flow(paths, tmp / "home-flow", models, "bench-cold")
    print(f"      cold flow {cold['seconds']:.1f} s ({cold['chunks']} chunks)", flush=True)
    warm_run = run_flow(paths, tmp / "home-flow", models, "bench-warm")
    print(f"      warm re-run {warm_run['seconds']:.1f} s", flush=True)
    engine = run_engine(paths, tmp / "home-engine", models)
    print(f"      engine only, cold {engine['seconds']:.1f} s ({engine['chunks']} chunks)", flush=True)
    engine_warm = run_engine(paths, tmp / "home-flow", models)
    print(f"      engine only, warm {engine_warm['seconds']:.1f} s", flush=True)
    if engine["chunks"] != cold["chunks"]:
        print(f"  WARNING: the engine wrote {engine['chunks']} chunks, the flow {cold['chunks']}")
    if engine_warm["todo"] or warm_run["chunks"]:
        print("  WARNING: the warm runs found work to do")
    return {
        "files": n_files,
        "docs": n_docs,
        "warmup_s": warmup_s,
        "cold": cold,
        "warm": warm_run,
        "engine": engine,
        "engine_warm": engine_warm,
    }


# --- report ---------------------------------------------------------------------------------
def measure_jobs(tmp: Path, n_jobs: int) -> dict[str, Any]:
    """``n_jobs + 1`` one-file jobs through the public facade, one after another (part (c))."""
    import inlet
    from pipelines.config import get_settings

    home = tmp / "jobs-home"
    folder = tmp / "job-files"
    folder.mkdir()
    settings = get_settings(home=str(home))
    rows = []
    try:
        for i in range(n_jobs + 1):
            note = folder / f"note-{i}.txt"
            note.write_text(f"Note {i}: the ferry to island {i} leaves at {7 + i % 10} in the morning.\n")
            began = time.perf_counter()
            job_id = inlet.submit([str(note)], "bench", settings=settings)
            submitted = time.perf_counter()
            summary = inlet.wait(job_id, progress=False, settings=settings)
            done = time.perf_counter()
            row = inlet.jobs(job_id=job_id, settings=settings).row(0, named=True)
            to_start = (
                (row["started_at"] - row["submitted_at"]).total_seconds() if row["started_at"] else None
            )
            rows.append({"submit_s": submitted - began, "to_start_s": to_start, "to_done_s": done - began,
                         "status": summary["status"]})  # fmt: skip
            print(f"    job {i}: {summary['status']}, submit->done {done - began:.2f} s", flush=True)
        idle = idle_cpu(settings, IDLE_WINDOW_S)
    finally:
        from flows.local_worker import stop_worker

        stop_worker(settings)
    warm = rows[1:]

    def med(key: str) -> float | None:
        values = [r[key] for r in warm if r[key] is not None]
        return statistics.median(values) if values else None

    return {"first": rows[0], "jobs": len(warm), "submit_s": med("submit_s"),
            "to_start_s": med("to_start_s"), "to_done_s": med("to_done_s"),
            "statuses": sorted({r["status"] for r in rows}), "idle_cpu_share": idle}  # fmt: skip


IDLE_WINDOW_S = 20.0
"""How long part (c) watches the warm worker and its server doing nothing."""


def idle_cpu(settings: Any, seconds: float) -> float | None:
    """The share of one core that the home's local worker and its descendants (the local Prefect
    server) use over ``seconds`` with no job: what keeping a worker warm costs the machine."""
    from flows.worker_lock import worker_pid

    pid = worker_pid(settings)
    if pid is None:
        return None
    before = BENCH_INGEST.tree_cpu(pid)
    time.sleep(seconds)
    return (BENCH_INGEST.tree_cpu(pid) - before) / seconds


def _cpu_row(label: str, run: dict[str, Any], note: str = "") -> str:
    m = run["meter"]
    cores = os.cpu_count() or 1
    others = 100 * m.cpu_others / (cores * m.wall) if m.wall else 0.0
    cpu = m.cpu_own + m.cpu_children
    return f"  {label:<40}{m.wall:>8.2f}{cpu:>9.1f}{others:>9.0f} %   {note}"


def report(
    tasks: dict[str, Any] | None, ingest: dict[str, Any] | None, jobs: dict[str, Any] | None = None
) -> None:
    print("\n" + "=" * 86)
    if tasks:
        n = tasks["tasks"]
        print(f"(a) Prefect per-task overhead: {n} no-op tasks, {tasks['repeats']} repeats, medians")
        print(f"  {'':<40}{'wall s':>8}{'per task':>11}{'CPU/task':>11}   notes")
        print(f"  {'plain Python call':<40}{'':>8}{tasks['plain_call_us']:>8.2f} us")
        lo, hi = tasks["fixed_flow_range_s"]
        print(
            f"  {'flow run, 0 tasks (fixed cost)':<40}{tasks['fixed_flow_s']:>8.2f}{'':>22}   "
            f"CPU {tasks['fixed_flow_cpu_s']:.2f} s; range {lo:.2f}-{hi:.2f} s"
        )
        for name, label in (("calls", "called in order"), ("submits", ".submit(), 2 threads")):
            r = tasks[name]
            lo, hi = r["range_s"]
            print(
                f"  {f'flow run, {n} tasks {label}':<40}{r['flow_s']:>8.2f}{r['per_task_ms']:>8.1f} ms"
                f"{r['per_task_cpu_ms']:>8.1f} ms   body {r['body_s']:.2f} s ({r['per_task_body_ms']:.1f} "
                f"ms/task), tail {r['tail_s']:.2f} s; range {lo:.2f}-{hi:.2f} s"
            )
        print(
            f"  first flow run of the process (API server start, fresh database): "
            f"{tasks['first_flow_s']:.1f} s (counted nowhere else)"
        )
    if ingest:
        cold, warm, engine, engine_warm = (
            ingest["cold"],
            ingest["warm"],
            ingest["engine"],
            ingest["engine_warm"],
        )
        print(
            f"\n(b) ingest of {ingest['files']} files (samples/corpus + {ingest['docs']} SciFact "
            f"abstracts) -> {cold['chunks']} chunks; models loaded beforehand"
        )
        print(f"  {'':<40}{'wall s':>8}{'CPU s':>9}{'others':>11}   notes")
        print(
            _cpu_row(
                "flow, cold (fresh home)",
                cold,
                f"analytics writes {cold['analytics_s']:.2f} s in {cold['analytics_calls']} files",
            )
        )
        statuses = ", ".join(f"{v} {k}" for k, v in sorted(warm["statuses"].items()))
        print(
            _cpu_row(
                "flow, warm re-run (unchanged)",
                warm,
                f"{statuses}; analytics writes {warm['analytics_s']:.2f} s",
            )
        )
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in engine["stages"].items())
        print(_cpu_row("engine only, cold (no Prefect)", engine, stages))
        print(_cpu_row("engine only, warm (validate)", engine_warm, ""))
        for label, flow_run, bare in (("cold", cold, engine), ("warm", warm, engine_warm)):
            prefect_s = flow_run["seconds"] - bare["seconds"] - flow_run["analytics_s"]
            fm, bm = flow_run["meter"], bare["meter"]
            prefect_cpu = (fm.cpu_own + fm.cpu_children) - (bm.cpu_own + bm.cpu_children)
            print(
                f"  orchestration, {label}: wall {prefect_s:.2f} s = "
                f"{100 * prefect_s / flow_run['seconds']:.1f} % of the flow's {flow_run['seconds']:.2f} s "
                f"(flow - engine - analytics writes); CPU {prefect_cpu:.2f} s = "
                f"{100 * prefect_cpu / max(fm.cpu_own + fm.cpu_children, 1e-9):.1f} % of the flow's CPU"
            )
        print(
            f"  warm re-run / cold run: {warm['seconds']:.2f} s / {cold['seconds']:.2f} s = "
            f"{100 * warm['seconds'] / cold['seconds']:.1f} %; one-off warm-up (model export and "
            f"loads, first flow): {ingest['warmup_s']:.1f} s"
        )
    if jobs:
        first = jobs["first"]
        print(f"\n(c) one-file jobs through inlet.submit + inlet.wait ({', '.join(jobs['statuses'])})")
        print(f"  {'':<40}{'submit s':>9}{'->start s':>11}{'->done s':>10}")
        print(f"  {'first job (starts the local worker)':<40}{first['submit_s']:>9.2f}"
              f"{first['to_start_s'] or float('nan'):>11.2f}{first['to_done_s']:>10.2f}")  # fmt: skip
        warm_label = f"warm worker, median of {jobs['jobs']}"
        print(f"  {warm_label:<40}{jobs['submit_s']:>9.2f}"
              f"{jobs['to_start_s'] or float('nan'):>11.2f}{jobs['to_done_s']:>10.2f}")  # fmt: skip
        if jobs.get("idle_cpu_share") is not None:
            print(f"  the warm worker and its server, idle for {IDLE_WINDOW_S:.0f} s: "
                  f"{100 * jobs['idle_cpu_share']:.1f} % of one core")  # fmt: skip
    print(
        "  (CPU s = this process and its children, i.e. Prefect's server; others = CPU other "
        "processes took meanwhile, % of the machine)"
    )


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "meter"} | (
            {"cpu": value["meter"].as_dict()} if "meter" in value else {}
        )
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100, help="no-op tasks per flow in (a) (default 100)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each flow in (a) (default 5)")
    parser.add_argument("--docs", type=int, default=200, help="SciFact abstracts in (b) (default 200)")
    parser.add_argument("--skip-tasks", action="store_true", help="skip (a)")
    parser.add_argument("--skip-ingest", action="store_true", help="skip (b)")
    parser.add_argument("--jobs", type=int, default=0, help="warm one-file jobs in (c) (default 0: skip)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line last")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="inlet-flow-bench-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)  # runs after Prefect stops its server
    os.environ["PREFECT_HOME"] = str(tmp / "prefect")
    os.environ["INLET_HOME"] = str(tmp / "home-default")  # never ~/.inlet
    os.environ.pop("PREFECT_API_URL", None)  # ephemeral mode, as embedded inlet

    import flows  # noqa: F401  - sets Prefect's environment before prefect is imported

    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    print(f"inlet flow overhead benchmark ({os.cpu_count()} CPUs, 1-min load average {load_start:.2f})")
    tasks = None
    if not args.skip_tasks:
        print(
            f"  (a) {args.repeats} x (empty flow, {args.tasks} task calls, {args.tasks} submits) ...",
            flush=True,
        )
        with Meter() as meter:
            tasks = measure_tasks(args.tasks, args.repeats)
        tasks["meter"] = meter
    ingest = None if args.skip_ingest else measure_ingest(tmp, args.docs)
    jobs = measure_jobs(tmp, args.jobs) if args.jobs else None
    report(tasks, ingest, jobs)
    print(
        f"  1-min load average {load_start:.2f} at start, {os.getloadavg()[0]:.2f} at end; "
        f"whole run {time.perf_counter() - started:.0f} s"
    )
    if args.json:
        print(json.dumps(_plain({"tasks": tasks, "ingest": ingest, "jobs": jobs})))
    return 0


if __name__ == "__main__":
    sys.exit(main())
