"""Crash and resume: an ingest killed with SIGKILL, then run again, ends as a clean run does.

Each ingest runs in a child process (its own ``INLET_HOME``; Prefect API = the session's test
server; the session's exported models), called through ``flows.ingest.ingest_flow``. The test
kills the child's whole process group with SIGKILL at one point of the job, looks at what the
kill left behind (to prove the point was hit), frees the concurrency slots the dead run kept (as
the local worker does when it starts), runs the same job (same paths, same job id) again in the
same home to completion, and compares the stores with a clean run of the same corpus in
another home: every source recorded once, the same chunks per source, no duplicate ``chunk_id``,
no chunk without its source, the same search indexes, and the job completed.

Kill points (moments chosen by what the home shows, not by timers):

- ``transcribe``: the recording's ``transcribe`` start event is in the analytics store (the text
  files are extracted and indexed meanwhile); checked after the kill: the recording is neither
  cached nor indexed.
- ``embed``: the vector cache table exists (made just before the encoder first runs), the
  chunks table does not.
- ``between-commits``: the chunks are committed, the sources table is not written yet. That
  window is a few milliseconds, too short to hit from outside, so the child stops just before
  the store's ``merge_insert`` on the ``sources`` table, shows it with a marker file and waits
  there to be killed (instrumentation in the child's script; the store code is unchanged).
- ``index-refresh``: chunks and sources committed, the full-text index not yet built (the child
  stops the same way before ``create_index`` on the ``chunks`` table).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pipelines import analytics
from pipelines.config import Settings, get_settings
from pipelines.store import Store
from tests.conftest import REPO, SAMPLES

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

COLLECTION = "crash"
JOB_ID = "crashjob0001"
SETTINGS: dict[str, Any] = {}  # inlet's defaults
SCIFACT_DOCS = 4
AUDIO = "jfk_inaugural_excerpt.wav"  # the recording in samples/corpus
RUN_TIMEOUT_S = 900.0  # a hard stop for one child run (the machine may be shared and slow)
POLL_S = 0.005

# The child: optional pause before one LanceDB call (test instrumentation), then the flow's
# public entry. The summary goes to a file; stdout and stderr go to a log.
CHILD = r"""
import json, sys, time
from pathlib import Path

args = json.loads(sys.argv[1])
if args["pause"]:
    from lancedb.table import LanceTable

    method, table_name = args["pause"]
    original = getattr(LanceTable, method)

    def paused(self, *a, **k):
        if self.name == table_name:
            Path(args["marker"]).touch()
            time.sleep(3600)  # killed here
        return original(self, *a, **k)

    setattr(LanceTable, method, paused)

from flows.ingest import ingest_flow
from pipelines.config import get_settings

summary = ingest_flow(
    args["paths"], collection=args["collection"], settings=get_settings(**args["settings"]),
    job_id=args["job_id"],
)
Path(args["summary"]).write_text(json.dumps(summary, default=str))
"""


class IndexesDiffer(Exception):
    """The chunks table's search indexes differ from those of a clean run."""


# --- the corpus --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> Path:
    """samples/corpus (3 PDFs, a WAV recording, Markdown), one more PDF, a few text files."""
    folder = tmp_path_factory.mktemp("crash-corpus")
    for path in SAMPLES.iterdir():
        shutil.copy(path, folder / path.name)
    shutil.copy(shared / "pdfs/pypdf/crazyones.pdf", folder / "crazyones.pdf")
    with (shared / "retrieval/scifact/corpus.jsonl").open(encoding="utf-8") as fh:
        for _, line in zip(range(SCIFACT_DOCS), fh, strict=False):
            row = json.loads(line)
            text = f"{row['title'].strip()}\n\n{row['text'].strip()}\n"
            (folder / f"scifact-{row['_id']}.txt").write_text(text, encoding="utf-8")
    assert (folder / AUDIO).is_file()
    return folder


# --- running a child ---------------------------------------------------------------------
@dataclass
class Child:
    proc: subprocess.Popen
    log: Path
    summary: Path
    marker: Path
    started: float = field(default_factory=time.monotonic)

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL the child's whole process group (the flow and anything it started)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=60)


def _child_env(home: Path) -> dict[str, str]:
    from prefect.settings import get_current_settings

    env = {k: v for k, v in os.environ.items() if not k.startswith("INLET_") or k == "INLET_MODELS_DIR"}
    env["INLET_HOME"] = str(home)
    api = get_current_settings().api.url  # the session's test server (prefect_harness)
    if api:
        env["PREFECT_API_URL"] = str(api)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def start_child(home: Path, corpus: Path, pause: tuple[str, str] | None = None) -> Child:
    home.mkdir(parents=True, exist_ok=True)
    run = home.parent / f"{home.name}-run{len(list(home.parent.glob(home.name + '-run*.log')))}"
    args = {
        "paths": [str(corpus)],
        "collection": COLLECTION,
        "job_id": JOB_ID,
        "settings": SETTINGS,
        "pause": list(pause) if pause else None,
        "marker": str(run.with_suffix(".paused")),
        "summary": str(run.with_suffix(".json")),
    }
    log = run.with_suffix(".log")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(args)],
            cwd=REPO,
            env=_child_env(home),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: one kill takes all of it
        )
    return Child(proc, log, Path(args["summary"]), Path(args["marker"]))


def run_to_end(home: Path, corpus: Path) -> dict[str, Any]:
    child = start_child(home, corpus)
    try:
        child.proc.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        pytest.fail(f"the ingest did not end within {RUN_TIMEOUT_S:.0f} s; its log:\n{child.tail()}")
    assert child.proc.returncode == 0 and child.summary.exists(), f"the ingest failed:\n{child.tail()}"
    return json.loads(child.summary.read_text())


def kill_when(child: Child, reached: Callable[[], bool], what: str) -> float:
    """Poll until ``reached()``, then SIGKILL; the seconds from start to kill."""
    while True:
        if child.proc.poll() is not None:
            pytest.fail(f"the ingest ended (exit {child.proc.returncode}) before {what}:\n{child.tail()}")
        if time.monotonic() - child.started > RUN_TIMEOUT_S:
            child.kill()
            pytest.fail(f"{what} not reached within {RUN_TIMEOUT_S:.0f} s:\n{child.tail()}")
        if reached():
            child.kill()
            return time.monotonic() - child.started
        time.sleep(POLL_S)


# --- what a home holds -------------------------------------------------------------------
@dataclass
class StoreView:
    """The part of a home a user would check after a job."""

    chunk_ids: list[str]
    chunks_by_file: dict[str, int]
    chunk_sources: set[str]
    source_rows: list[dict[str, Any]]
    indexes: set[str]
    job_status: str | None
    cached_extractions: int

    @property
    def source_ids(self) -> list[str]:
        return [r["source_id"] for r in self.source_rows]


def settings_for(home: Path) -> Settings:
    return get_settings(home=home, **SETTINGS)


def look(home: Path) -> StoreView:
    settings = settings_for(home)
    store = Store(settings)
    chunks = store.chunk_rows(collection=COLLECTION)
    ids = chunks["chunk_id"].to_list() if chunks.height else []
    by_file: dict[str, int] = {}
    for name in chunks["file"].to_list() if chunks.height else []:
        by_file[name] = by_file.get(name, 0) + 1
    sources = store.source_rows(COLLECTION)
    rows = sources.select("source_id", "file", "n_chunks").to_dicts() if sources.height else []
    table = store.chunks()
    indexes = {i.name for i in table.list_indices()} if table is not None else set()
    jobs = analytics.query(settings, "SELECT status FROM job_state WHERE job_id = ?", [JOB_ID])
    extract_dir = settings.cache_dir / "extract"
    return StoreView(
        chunk_ids=ids,
        chunks_by_file=by_file,
        chunk_sources=set(chunks["source_id"].to_list()) if chunks.height else set(),
        source_rows=rows,
        indexes=indexes,
        job_status=jobs["status"][0] if jobs.height else None,
        cached_extractions=len(list(extract_dir.glob("*/*.json"))) if extract_dir.is_dir() else 0,
    )


def held_slots() -> dict[str, int]:
    """Occupied slots of the Prefect global concurrency limits (no run is going on)."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        limits = client.read_global_concurrency_limits(limit=200)
    return {limit.name: limit.active_slots for limit in limits if limit.active_slots}


def release_slots(home: Path) -> None:
    """What the local worker does when it starts: free every slot of inlet's limits."""
    from flows.tasks import ensure_limits

    ensure_limits(settings_for(home), release_all=True)


# --- the clean run and the kill points ---------------------------------------------------
@pytest.fixture(scope="module")
def clean(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], StoreView, Path]:
    home = tmp_path_factory.mktemp("clean") / "home"
    summary = run_to_end(home, corpus)
    assert summary["status"] == "completed", summary
    view = look(home)
    assert view.chunk_ids and view.indexes, view
    return summary, view, home


def _audio_started(home: Path) -> Callable[[], bool]:
    settings = settings_for(home)
    state = {"next": 0.0}

    def reached() -> bool:
        if time.monotonic() < state["next"]:
            return False
        state["next"] = time.monotonic() + 0.2  # a DuckDB query per poll: not every 5 ms
        if not (settings.analytics_dir / "events").is_dir():
            return False
        started = analytics.query(
            settings,
            "SELECT count(*) AS n FROM events WHERE job_id = ? AND stage = 'transcribe' AND event = 'start'",
            [JOB_ID],
        )
        return bool(started["n"][0])

    return reached


def _exists(path: Path, absent: Path | None = None) -> Callable[[], bool]:
    return lambda: path.exists() and (absent is None or not absent.exists())


@dataclass
class Crash:
    point: str
    killed_after_s: float
    killed: StoreView
    leaked_slots: dict[str, int]
    slots_after_release: dict[str, int]
    summary: dict[str, Any]
    resumed: StoreView


class CrashLab:
    """Runs each kill point once (kill, look, run again, look); results kept for the tests."""

    def __init__(self, corpus: Path, clean_home: Path, root: Path) -> None:
        self.corpus, self.clean_home, self.root = corpus, clean_home, root
        self.done: dict[str, Crash] = {}

    def run(self, point: str) -> Crash:
        if point not in self.done:
            self.done[point] = self._crash(point)
        return self.done[point]

    def _crash(self, point: str) -> Crash:
        home = self.root / point / "home"
        lancedb = home / "lancedb"
        if point != "transcribe":
            # Kill points in the index stage: start from the clean run's extraction cache so that
            # the run gets there without transcribing again (the cache is content-addressed).
            shutil.copytree(settings_for(self.clean_home).cache_dir, settings_for(home).cache_dir)
        pause = {"between-commits": ("merge_insert", "sources"), "index-refresh": ("create_index", "chunks")}
        child = start_child(home, self.corpus, pause.get(point))
        if point == "transcribe":
            reached = _audio_started(home)
        elif point == "embed":
            reached = _exists(lancedb / "vector_cache.lance", absent=lancedb / "chunks.lance")
        else:
            reached = _exists(child.marker)
        killed_after = kill_when(child, reached, f"the {point} kill point")
        killed = look(home)
        leaked = held_slots()
        release_slots(home)  # else the run below waits for the dead run's slots
        after_release = held_slots()
        summary = run_to_end(home, self.corpus)
        return Crash(point, killed_after, killed, leaked, after_release, summary, look(home))


@pytest.fixture(scope="module")
def lab(corpus: Path, clean, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrashLab]:  # noqa: ANN001
    lab = CrashLab(corpus, clean[2], tmp_path_factory.mktemp("crashes"))
    yield lab
    if held_slots():  # never leave the session's Prefect server with a slot taken
        release_slots(lab.clean_home)


def _check_hit(point: str, killed: StoreView, clean: StoreView, audio: str) -> None:
    """The kill happened where it was meant to."""
    assert set(killed.chunk_ids) <= set(clean.chunk_ids), "chunks a clean run does not write"
    if point == "transcribe":
        assert audio not in killed.chunks_by_file, "killed after the recording was indexed"
        assert killed.cached_extractions < len(clean.source_rows), "every extraction had finished"
    elif point == "embed":
        assert not killed.chunk_ids and not killed.source_rows, "killed after a chunk write"
    elif point == "between-commits":
        assert killed.chunk_ids, "no chunk commit before the kill"
        assert killed.chunk_sources - set(killed.source_ids), "no chunk was waiting for its source row"
    elif point == "index-refresh":
        assert sorted(killed.chunk_ids) == sorted(clean.chunk_ids)
        assert sorted(killed.source_ids) == sorted(clean.source_ids)
        assert not (killed.indexes & clean.indexes), f"indexes already built: {killed.indexes}"


POINTS = [
    "transcribe",
    "embed",
    "between-commits",
    "index-refresh",
]


@pytest.mark.parametrize("point", POINTS)
def test_a_killed_ingest_run_again_matches_a_clean_run(point: str, lab: CrashLab, clean) -> None:  # noqa: ANN001
    _, want, _ = clean
    crash = lab.run(point)
    _check_hit(point, crash.killed, want, AUDIO)
    got, summary = crash.resumed, crash.summary

    # The job: completed on the second run, each file ingested or already there, none failed.
    assert summary["status"] == "completed", summary
    statuses = {s["file"]: s["status"] for s in summary["sources"]}
    assert set(statuses.values()) <= {"ingested", "unchanged"}, statuses
    assert got.job_status == "completed"

    # Every source once, with the clean run's chunks; no duplicate chunk, no orphan chunk.
    assert len(got.source_ids) == len(set(got.source_ids)), "a source is recorded twice"
    by_file = sorted(got.source_rows, key=lambda r: r["file"])
    assert by_file == sorted(want.source_rows, key=lambda r: r["file"])
    assert len(got.chunk_ids) == len(set(got.chunk_ids)), "duplicate chunk_id"
    assert got.chunks_by_file == want.chunks_by_file
    assert sorted(got.chunk_ids) == sorted(want.chunk_ids)
    assert got.chunk_sources <= set(got.source_ids), "chunks whose source is not recorded"
    assert {r["file"]: r["n_chunks"] for r in got.source_rows} == got.chunks_by_file

    # The search indexes a clean run builds (a run killed before its refresh leaves none).
    if got.indexes != want.indexes:
        raise IndexesDiffer(f"indexes {sorted(got.indexes)}, a clean run has {sorted(want.indexes)}")


def test_the_slots_a_killed_run_kept_are_freed_when_the_worker_starts(lab: CrashLab) -> None:
    """Killed inside its embedding, a run keeps its concurrency slot (its lease outlives it); the
    local worker frees inlet's slots when it starts, so the next run does not wait for it."""
    crash = lab.run("embed")
    assert crash.leaked_slots, "the kill inside the embedding left no slot held: nothing was tested"
    assert not crash.slots_after_release, crash.slots_after_release
