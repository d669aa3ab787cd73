"""Faults: break inlet on purpose, show what the user sees, and check that nothing is lost.

Each fault is injected into a real ingest, driven as a user drives one (``inlet.submit`` to the
local worker, ``inlet.wait``, ``inlet.jobs``), into a throwaway home. The campaign prints, per
fault, what the user sees (the job's status, the error classes of its files and the first hint),
how it recovered, and whether the store then equals a clean run of the same corpus: every source
once, the same chunks with the same ids (``pipelines.chunk.chunk_id``) and texts, no duplicate,
none missing.

Faults (``FAULTS``; ``--quick`` runs the ones marked quick, as ``tests/bench/test_faults.py`` does):

- ``transient``: every index batch fails twice with a retryable ``store_unavailable``; retried.
- ``permanent``: every index batch fails with a non-retryable error; tried once. Recovery: run again.
- ``corrupt-cache``: every extraction cache entry is overwritten with garbage before the ingest.
- ``model-missing``: the embedding model does not exist; its circuit breaker opens after
  ``breaker_threshold`` failures and the rest fail at once. Recovery: the model is configured
  again, the cool-down passes, the job runs again.
- ``sigkill-mid-embed``: the worker (and its process group) is SIGKILLed while it embeds;
  ``inlet.wait`` replaces the worker and the job resumes.
- ``store-read-only``: the store's folder becomes read-only (a read-only bind mount) after the
  first batch is written. Recovery: writable again, cool-down, run again.
- ``disk-full``: the store's file system (a tmpfs) is filled after the first batch is written.
  Recovery: space freed, cool-down, run again.

The last two need to mount file systems (root, or CAP_SYS_ADMIN); without it they are reported
as skipped. The quick faults share one home (one worker), each in its own collection; the others
get a home each.

``--campaign`` runs the campaign at scale instead (``at_scale``), on ``--files`` notes (200 by
default) plus the samples, the recording included, each part compared with a clean run:

- random faults: ``fault_injection=random:RATE:SEED`` (``--rate``, ``--seed``) fails each attempt
  of every retried task (extract or transcribe one file, index a batch) with a retryable error
  at that rate, never the attempt after the last retry: every file must end ingested, none
  retried more than ``retries`` times in a stage; the faults are counted from the ``retry`` events;
- random kills: the worker's process group is SIGKILLed ``--kills`` times at random moments of
  one job, each followed by a new worker that resumes it; the analytics must show every file
  once, ingested, and the store must equal the clean run's;
- concurrent writers: ``--writers`` processes each run the ingest flow into one collection of
  one home at once, under one Prefect server, while a fifth polls the dashboard's reads every
  100 ms, for ``--minutes``: no lock error, every event written is read back, no chunk twice.

It prints per part: files, faults injected, retries, kills, jobs, minutes, errors by class and
peak memory.

Run from the project folder:

    .venv/bin/python bench/faults.py                  # every fault
    .venv/bin/python bench/faults.py --quick          # the slice the tests run
    .venv/bin/python bench/faults.py --only disk-full,sigkill-mid-embed --files 60 --json
    .venv/bin/python bench/faults.py --campaign --files 200 --kills 20 --minutes 5   # at scale

Exit status 1 when a fault was not handled: not injected where meant, a file without a
classified verdict and a hint, or a store that differs from the clean run after recovery (with
``--campaign``: when a part found a problem).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parents[1]
for where in (ROOT, ROOT / "bench"):
    if str(where) not in sys.path:
        sys.path.insert(0, str(where))

SAMPLES = ROOT / "samples" / "corpus"
JOB_TIMEOUT_S = 900.0
COOLDOWN_S = 3.0
"""The breakers' cool-down in the faults that open one (short, so that recovery is quick)."""
FAST = {"retry_delay_s": 0.2, "retry_jitter": 0.0, "breaker_threshold": 2, "breaker_cooldown_s": COOLDOWN_S}
"""Settings of the faulty jobs: short retry delays and cool-downs."""
BATCHED = {"small_file_batch": 4, "index_batch_chunks": 1}
"""Settings that index each small batch as soon as it is extracted: many commits in one job, so
that a fault can strike between them."""

_WORDS = (
    "tide moon ocean harbour lantern granite orchard meadow falcon copper river glacier thunder "
    "archive ledger compass quarry violin saffron ember willow canyon beacon mosaic prairie "
    "monsoon citadel nebula orbit pollen marble harvest summit cavern ripple tundra delta"
).split()


# --- the corpus and the stores ---------------------------------------------------------------
def write_corpus(folder: Path, files: int) -> list[Path]:
    """``files`` text files of distinct prose (about 400 words each) plus the PDFs and the
    Markdown file of ``samples/corpus``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(files):
        rng = random.Random(i)
        paragraphs = [
            " ".join(rng.choice(_WORDS) for _ in range(rng.randint(60, 100))).capitalize() + "."
            for _ in range(5)
        ]
        path = folder / f"note-{i:03d}.txt"
        path.write_text(f"Note {i}.\n\n" + "\n\n".join(paragraphs) + "\n")
        written.append(path)
    for sample in sorted(SAMPLES.glob("*")):
        if sample.suffix in (".pdf", ".md"):
            shutil.copy(sample, folder / sample.name)
            written.append(folder / sample.name)
    return written


def snapshot(home: Path, collection: str) -> dict[str, Any]:
    """The collection as stored: per source id its chunks ``(index, text)``, the source rows per
    id, every chunk id, and whether each id is the one the chunker derives."""
    from pipelines.chunk import chunk_id
    from pipelines.config import get_settings
    from pipelines.store import Store

    settings = get_settings(home=home)
    store = Store(settings)
    rows = store.chunk_rows(collection=collection)
    chunks: dict[str, list[tuple[int, str]]] = {}
    ids: list[str] = []
    derived = True
    key = settings.chunking_key()
    if rows.height:
        for r in rows.select("chunk_id", "source_id", "chunk_index", "text").iter_rows(named=True):
            chunks.setdefault(r["source_id"], []).append((r["chunk_index"], r["text"]))
            ids.append(r["chunk_id"])
            derived &= r["chunk_id"] == chunk_id(collection, r["source_id"], key, r["chunk_index"])
    sources = store.source_rows(collection)
    per_source: dict[str, int] = {}
    for sid in sources["source_id"].to_list() if sources.height else []:
        per_source[sid] = per_source.get(sid, 0) + 1
    return {"chunks": {k: sorted(v) for k, v in chunks.items()}, "ids": ids, "sources": per_source,
            "derived": derived}  # fmt: skip


def compare(clean: dict[str, Any], got: dict[str, Any]) -> dict[str, int]:
    """``lost`` (sources of the clean run missing or with fewer chunks), ``duplicated`` (chunk
    ids stored twice, sources recorded twice), ``differing`` (sources whose chunks differ),
    ``extra`` (sources the clean run does not have), ``foreign_ids`` (ids not derived by rule)."""
    lost = differing = 0
    for sid, chunks in clean["chunks"].items():
        mine = got["chunks"].get(sid)
        if mine is None or len(mine) < len(chunks):
            lost += 1
        elif mine != chunks:
            differing += 1
    duplicated = len(got["ids"]) - len(set(got["ids"])) + sum(n - 1 for n in got["sources"].values() if n > 1)
    return {
        "lost": lost + len(set(clean["sources"]) - set(got["sources"])),
        "duplicated": duplicated,
        "differing": differing,
        "extra": len(set(got["chunks"]) - set(clean["chunks"])),
        "foreign_ids": 0 if got["derived"] else 1,
    }


# --- driving jobs as a user does ---------------------------------------------------------------
def submit(home: Path, paths: list[Path], collection: str, **overrides: Any) -> str:
    import inlet

    return inlet.submit([str(p) for p in paths], collection, home=home, **overrides)


def wait(home: Path, job_id: str) -> dict[str, Any]:
    import inlet

    return dict(inlet.wait(job_id, progress=False, timeout=JOB_TIMEOUT_S, home=home))


def ingest(home: Path, paths: list[Path], collection: str, **overrides: Any) -> dict[str, Any]:
    return wait(home, submit(home, paths, collection, **overrides))


def finished(home: Path, job_id: str) -> bool:
    import inlet

    rows = inlet.jobs(job_id=job_id, home=home)
    return bool(rows.height and rows["finished"][0])


def retries(home: Path, job_id: str) -> int:
    import inlet

    rows = inlet.jobs(job_id=job_id, home=home)
    return int(rows["retries"][0] or 0) if rows.height else 0


def until(condition: Callable[[], bool], home: Path, job_id: str, poll_s: float = 0.05) -> bool:
    """Wait until ``condition()``; False when the job finished first (the fault missed its moment)."""
    checked = time.monotonic()
    while not condition():
        if time.monotonic() - checked > 0.5:
            if finished(home, job_id):
                return condition()
            checked = time.monotonic()
        time.sleep(poll_s)
    return True


def written_once(home: Path, job_id: str) -> Callable[[], bool]:
    """True once a source of the job is indexed (its ``index`` stage ended)."""
    import inlet

    def check() -> bool:
        frame = inlet.job_sources(job_id, home=home)
        return bool(frame.height and (frame["status"] == "ingested").any())

    return check


def classes(summary: dict[str, Any]) -> dict[str, int]:
    """Verdicts of a job's files: ``ingested``, ``unchanged`` or an error class, with counts."""
    counts: dict[str, int] = {}
    for source in summary["sources"]:
        verdict = (source["error"] or {}).get("class") or source["status"]
        counts[verdict] = counts.get(verdict, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def unhinted(summary: dict[str, Any]) -> list[str]:
    """Files that failed without a class and a hint (each failure must say what to do)."""
    return [s["file"] for s in summary["sources"]
            if s["status"] == "failed" and not ((s["error"] or {}).get("class") and (s["error"] or {}).get("hint"))]  # fmt: skip


def first_hint(summary: dict[str, Any]) -> str:
    hints = [(s["error"] or {}).get("hint") for s in summary["sources"] if s["status"] == "failed"]
    return next((h for h in hints if h), "")


# --- mounts (root only) --------------------------------------------------------------------------
def can_mount() -> bool:
    probe = Path(tempfile.mkdtemp(prefix="inlet-mount-"))
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)],
                              capture_output=True, check=False)  # fmt: skip
        if done.returncode == 0:
            subprocess.run(["umount", str(probe)], check=False)
        return done.returncode == 0
    except FileNotFoundError:
        return False
    finally:
        probe.rmdir()


@contextmanager
def mounted(args: list[str], where: Path) -> Iterator[None]:
    subprocess.run(["mount", *args, str(where)], check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


def fill(folder: Path) -> Path:
    """Write a file until the file system is full (delete it to free the space)."""
    filler = folder / ".filler"
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * (1 << 20))
        except OSError:
            pass
    return filler


# --- the worker --------------------------------------------------------------------------------
def kill_worker(home: Path) -> bool:
    """SIGKILL the local worker of ``home`` (its process group when it leads one: with its
    Prefect server, as a crash of the machine's session would)."""
    from hostile import worker_of

    worker = worker_of(home)
    if worker is None:
        return False
    try:
        if os.getpgid(worker.pid) == worker.pid:
            os.killpg(worker.pid, signal.SIGKILL)
        else:
            worker.kill()
    except ProcessLookupError:
        return False
    return True


def stop_workers(homes: list[Path]) -> None:
    from hostile import stop_worker, worker_of

    for home in homes:
        worker = worker_of(home)
        if worker is not None:
            stop_worker(worker)


# --- the faults ----------------------------------------------------------------------------------
@dataclass
class Outcome:
    fault: str
    hit: bool = False
    """The fault struck where it was meant to."""
    status: str = ""
    """The job's status as the user sees it (``inlet.wait``)."""
    verdicts: dict[str, int] = field(default_factory=dict)
    hint: str = ""
    retries: int = 0
    recovery: str = ""
    final: str = ""
    """The status of the job that recovered (or of the faulty job itself when it recovered alone)."""
    check: dict[str, int] = field(default_factory=dict)
    unhinted: list[str] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str = ""

    @property
    def problem(self) -> str:
        if self.skipped:
            return ""
        if not self.hit:
            return "the fault did not strike where meant"
        if self.unhinted:
            return f"failed without class or hint: {self.unhinted[:3]}"
        if self.final != "completed":
            return f"recovery ended {self.final}"
        bad = {k: v for k, v in self.check.items() if v}
        return f"store differs from the clean run: {bad}" if bad else ""


@dataclass
class Campaign:
    corpus: list[Path]
    clean: dict[str, Any]
    base: Path
    homes: list[Path] = field(default_factory=list)
    shared_home: Path | None = None

    def home(self, name: str) -> Path:
        home = self.base / f"home-{name}"
        self.homes.append(home)
        return home


def _settle(outcome: Outcome, campaign: Campaign, home: Path, collection: str, summary: dict[str, Any],
            recovered: dict[str, Any] | None, recovery: str) -> Outcome:  # fmt: skip
    outcome.status, outcome.verdicts = summary["status"], classes(summary)
    outcome.hint, outcome.unhinted = first_hint(summary), unhinted(summary)
    outcome.retries = retries(home, summary["job_id"])
    outcome.recovery = recovery
    outcome.final = (recovered or summary)["status"]
    if recovered is not None:
        outcome.unhinted += unhinted(recovered)
    outcome.check = compare(campaign.clean, snapshot(home, collection))
    return outcome


def transient(c: Campaign) -> Outcome:
    home, out = c.shared_home, Outcome("transient")
    assert home is not None
    summary = ingest(home, c.corpus, "transient", fault_injection="index:transient:2", **FAST)
    out.hit = retries(home, summary["job_id"]) > 0
    return _settle(out, c, home, "transient", summary, None, "retried by inlet")


def permanent(c: Campaign) -> Outcome:
    home, out = c.shared_home, Outcome("permanent")
    assert home is not None
    summary = ingest(home, c.corpus, "permanent", fault_injection="index:permanent", **FAST)
    out.hit = summary["status"] == "failed" and retries(home, summary["job_id"]) == 0  # tried once
    again = ingest(home, c.corpus, "permanent")
    return _settle(out, c, home, "permanent", summary, again, "the job run again without the fault")


def corrupt_cache(c: Campaign) -> Outcome:
    from pipelines.config import get_settings

    home, out = c.shared_home, Outcome("corrupt-cache")
    assert home is not None
    entries = list(get_settings(home=home).cache_dir.rglob("*.json"))
    for i, entry in enumerate(entries):  # undecodable, truncated, the wrong shape
        entry.write_bytes([b"\xff\xfe\x00garbage", entry.read_bytes()[:40], b'{"source": 1}'][i % 3])
    out.hit = bool(entries)
    summary = ingest(home, c.corpus, "corrupt-cache")
    return _settle(out, c, home, "corrupt-cache", summary, None, "entries extracted again and rewritten")


def model_missing(c: Campaign) -> Outcome:
    home, out = c.shared_home, Outcome("model-missing")
    assert home is not None
    summary = ingest(
        home, c.corpus, "model-missing", embed_model=str(c.base / "no-such-model"), **FAST, **BATCHED
    )
    out.hit = "dependency_unavailable" in classes(summary) and "model_missing" in classes(summary)
    time.sleep(COOLDOWN_S + 0.5)
    again = ingest(home, c.corpus, "model-missing", **FAST)
    return _settle(out, c, home, "model-missing", summary, again,
                   "model configured again; after the cool-down a probe loads it; run again")  # fmt: skip


def sigkill_mid_embed(c: Campaign) -> Outcome:
    home, out = c.home("sigkill"), Outcome("sigkill-mid-embed")
    job_id = submit(home, c.corpus, "sigkill")
    lancedb = home / "lancedb"

    def embedding() -> bool:  # the vector cache is made just before the encoder first runs
        return (lancedb / "vector_cache.lance").exists() and not (lancedb / "chunks.lance").exists()

    if until(embedding, home, job_id, poll_s=0.005):
        time.sleep(0.3)
        out.hit = not (lancedb / "chunks.lance").exists() and kill_worker(home)
    summary = wait(home, job_id)  # replaces the dead worker; the job resumes
    return _settle(out, c, home, "sigkill", summary, None, "inlet.wait started a new worker; the job resumed")


def store_read_only(c: Campaign) -> Outcome:
    home, out = c.home("read-only"), Outcome("store-read-only")
    job_id = submit(home, c.corpus, "read-only", **FAST, **BATCHED)
    lancedb = home / "lancedb"
    if until(written_once(home, job_id), home, job_id):
        with mounted(["--bind", str(lancedb)], lancedb):
            subprocess.run(["mount", "-o", "remount,ro,bind", str(lancedb)], check=True, capture_output=True)
            out.hit = not finished(home, job_id)
            summary = wait(home, job_id)
    else:
        summary = wait(home, job_id)
    time.sleep(COOLDOWN_S + 0.5)
    again = ingest(home, c.corpus, "read-only", **FAST)
    return _settle(out, c, home, "read-only", summary, again,
                   "writable again; after the cool-down a probe writes; run again")  # fmt: skip


def disk_full(c: Campaign) -> Outcome:
    home, out = c.home("disk-full"), Outcome("disk-full")
    lancedb = home / "lancedb"
    lancedb.mkdir(parents=True)
    with mounted(["-t", "tmpfs", "-o", "size=64m", "tmpfs"], lancedb):
        job_id = submit(home, c.corpus, "disk-full", **FAST, **BATCHED)
        filler = None
        if until(written_once(home, job_id), home, job_id):
            filler = fill(lancedb)
            out.hit = not finished(home, job_id)
        summary = wait(home, job_id)
        if filler is not None:
            filler.unlink()
        time.sleep(COOLDOWN_S + 0.5)
        again = ingest(home, c.corpus, "disk-full", **FAST)
        return _settle(out, c, home, "disk-full", summary, again,
                       "space freed; after the cool-down a probe writes; run again")  # fmt: skip


@dataclass(frozen=True)
class Fault:
    name: str
    run: Callable[[Campaign], Outcome]
    quick: bool = False
    mounts: bool = False


FAULTS = (
    Fault("transient", transient, quick=True),
    Fault("permanent", permanent, quick=True),
    Fault("corrupt-cache", corrupt_cache, quick=True),
    Fault("model-missing", model_missing, quick=True),
    Fault("sigkill-mid-embed", sigkill_mid_embed),
    Fault("store-read-only", store_read_only, mounts=True),
    Fault("disk-full", disk_full, mounts=True),
)


def campaign(
    base: Path, *, files: int = 40, only: list[str] | None = None, quick: bool = False
) -> list[Outcome]:
    """Run the faults (all, the quick ones, or those named) on a corpus of ``files`` notes plus
    the sample PDFs, each compared with a clean run. Workers are stopped at the end."""
    chosen = [f for f in FAULTS if (only is None or f.name in only) and (not quick or f.quick)]
    corpus = write_corpus(base / "corpus", files)
    shared_home = base / "home-shared"
    c = Campaign(corpus=corpus, clean={}, base=base, homes=[shared_home], shared_home=shared_home)
    outcomes = []
    try:
        started = time.monotonic()
        clean = ingest(shared_home, corpus, "clean")
        assert clean["status"] == "completed", classes(clean)
        c.clean = snapshot(shared_home, "clean")
        print(f"clean run: {len(corpus)} files, {sum(len(v) for v in c.clean['chunks'].values())} chunks "
              f"in {time.monotonic() - started:.1f} s", flush=True)  # fmt: skip
        mountable = can_mount() if any(f.mounts for f in chosen) else False
        for fault in chosen:
            if fault.mounts and not mountable:
                outcomes.append(Outcome(fault.name, skipped="mounting is not permitted here"))
                continue
            started = time.monotonic()
            outcome = fault.run(c)
            outcome.seconds = round(time.monotonic() - started, 1)
            outcomes.append(outcome)
            print(f"  {fault.name}: {outcome.status} -> {outcome.final} in {outcome.seconds} s "
                  f"{outcome.problem or 'ok'}", flush=True)  # fmt: skip
    finally:
        stop_workers(c.homes)
    return outcomes


# --- the campaign at scale: random faults, random kills, concurrent writers ---------------------
RETRIES = 3
"""Retries of a stage in the campaign (the setting's default)."""
RANDOM_FAULTS = {**FAST, "retries": RETRIES, "large_pdf_bytes": 1, **BATCHED}
"""Settings of the random-fault job: every PDF gets a retried extract task of its own (a small
file's batch is not retried, so no random fault strikes it), and every batch of four small files
is indexed as soon as it is read: many retried tasks, each a place for a fault."""
WRITER_ROUND = 4
"""New notes a writer adds per round (and as many shared notes, the same for every writer)."""


@dataclass
class Figures:
    """What one part of the campaign did and found; ``problems`` is empty when all held."""

    part: str
    files: int = 0
    faults: int = 0
    """Injected faults: failed attempts (one per task attempt, whatever the sources in it)."""
    retries: int = 0
    """Retry events, one per source and failed attempt."""
    max_retries: int = 0
    """The most retries of one source in one stage."""
    kills: int = 0
    jobs: int = 0
    minutes: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    """Error classes seen, with counts: retried ones (``retry: class``), final failures, and
    exceptions the writers' or the poller's calls raised."""
    peak_mb: float = 0.0
    """The peak resident memory of the process that ran the jobs (the worker; the largest writer)."""
    check: dict[str, int] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def corpus_with_media(folder: Path, files: int) -> list[Path]:
    """``write_corpus`` plus the sample recording, so that the transcribe stage takes part."""
    paths = write_corpus(folder, files)
    wav = SAMPLES / "jfk_inaugural_excerpt.wav"
    shutil.copy(wav, folder / wav.name)
    return [*paths, folder / wav.name]


def job_events(home: Path, job_id: str) -> Any:
    """Every event row of one job (a polars frame)."""
    from pipelines import analytics
    from pipelines.config import get_settings

    return analytics.query(get_settings(home=home), "SELECT * FROM events WHERE job_id = ?", [job_id])


def source_check(home: Path, job_id: str, files: int) -> tuple[dict[str, int], list[str]]:
    """The job's files as the analytics show them (``inlet.job_sources``): counts per status and
    the problems: a file shown twice or not at all, a file not ingested."""
    import inlet

    frame = inlet.job_sources(job_id, home=home)
    statuses: dict[str, int] = {}
    for status in frame["status"].to_list():
        statuses[status] = statuses.get(status, 0) + 1
    problems = []
    keys = [r["source_id"] or r["path"] for r in frame.iter_rows(named=True)]
    if len(keys) != len(set(keys)):
        problems.append(f"a file shown more than once: {len(keys) - len(set(keys))}")
    if len(set(keys)) != files:
        problems.append(f"{len(set(keys))} files shown, {files} given")
    if set(statuses) - {"ingested", "unchanged"}:
        problems.append(f"files not ingested: {statuses}")
    return statuses, problems


def worker_peak_mb(home: Path) -> float:
    from hostile import peak_memory_mb, worker_of

    worker = worker_of(home)
    return (peak_memory_mb(worker) or 0.0) if worker is not None else 0.0


def random_faults(home: Path, corpus: list[Path], clean: dict[str, Any], rate: float, seed: int) -> Figures:
    """A job of ``corpus`` with ``random:RATE:SEED`` faults: every file must end ingested, none
    retried more than ``RETRIES`` times in a stage, and the store must equal the clean run's."""
    out = Figures("random faults", files=len(corpus))
    started = time.monotonic()
    summary = ingest(home, corpus, "random", fault_injection=f"random:{rate}:{seed}", **RANDOM_FAULTS)
    out.minutes = round((time.monotonic() - started) / 60, 2)
    out.jobs = 1
    events = job_events(home, summary["job_id"])
    retried = events.filter(event="retry")
    out.retries = retried.height
    out.faults = retried.select("stage", "message").unique().height
    per_stage: dict[str, int] = {}
    for row in retried.select("stage", "message").unique().iter_rows(named=True):
        per_stage[row["stage"]] = per_stage.get(row["stage"], 0) + 1
    out.detail["faults_by_stage"] = dict(sorted(per_stage.items()))
    counts = retried.group_by("source_id", "stage").len()
    out.max_retries = int(counts["len"].max() or 0) if counts.height else 0
    for cls in retried["error_class"].to_list():
        out.errors[f"retry: {cls}"] = out.errors.get(f"retry: {cls}", 0) + 1
    for verdict, n in classes(summary).items():
        if verdict not in ("ingested", "unchanged"):
            out.errors[verdict] = n
    out.peak_mb = round(max(worker_peak_mb(home), float(events["peak_mb"].max() or 0)), 1)
    statuses, problems = source_check(home, summary["job_id"], len(corpus))
    out.detail["statuses"] = statuses
    out.check = compare(clean, snapshot(home, "random"))
    out.problems += problems
    if summary["status"] != "completed":
        out.problems.append(f"the job ended {summary['status']}: {classes(summary)}")
    if out.max_retries > RETRIES:
        out.problems.append(f"a source was retried {out.max_retries} times in a stage (at most {RETRIES})")
    if not out.faults:
        out.problems.append("no fault was injected")
    out.problems += [f"store: {k} {v}" for k, v in out.check.items() if v]
    return out


def runs_started(home: Path, job_id: str) -> int:
    """How many times a flow run of the job has started (each writes a ``running`` row with its
    start time)."""
    from pipelines import analytics
    from pipelines.config import get_settings

    sql = "SELECT count(*) AS n FROM jobs WHERE job_id = ? AND status = 'running' AND started_at IS NOT NULL"
    return int(analytics.query(get_settings(home=home), sql, [job_id])["n"][0])


def indexed(home: Path, job_id: str) -> int:
    """How many files of the job have been written (their ``index`` stage ended)."""
    import inlet

    frame = inlet.job_sources(job_id, home=home)
    return int((frame["status"] == "ingested").sum()) if frame.height else 0


def random_kills(
    home: Path, corpus: list[Path], clean: dict[str, Any], kills: int, seed: int, expected_s: float
) -> Figures:
    """SIGKILL the worker (and its process group) at ``kills`` random moments of one job, each
    followed by a new worker that resumes the job; then the store must equal the clean run's
    and the analytics must show every file once, ingested.

    Each kill comes a random delay after a moment of the (resumed) run: for the first, third,
    ... kill the moment it started (so the kill falls in its validation, extraction, model
    loading or first embedding), for the others the moment it wrote its first batch (so the
    kill falls while it embeds and writes, and each such run gets on with the job: a new
    worker spends its first seconds starting up, and without them most kills would strike
    before anything is written). The delay is drawn uniformly from zero to half the time the
    work left should take (``expected_s``, the clean run's duration, times the share of files
    not yet ingested) divided by the kills left; a kill comes sooner when the run has written
    half the files it had left (a short run can end before its delay), so the job does not end
    before the last kill."""
    from flows.submit import revive
    from pipelines.config import get_settings

    out = Figures("random kills", files=len(corpus))
    rng = random.Random(seed)
    settings = get_settings(home=home)
    started = time.monotonic()
    job_id = submit(home, corpus, "kills", **BATCHED)
    out.jobs = 1
    struck: list[dict[str, Any]] = []
    peak = 0.0
    for left in range(kills, 0, -1):
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while runs_started(home, job_id) <= len(struck) and not finished(home, job_id):
            if time.monotonic() > deadline:
                out.problems.append("the job did not start again after a kill")
                break
            revive(job_id, settings)  # as inlet.wait does: the dead worker's lock may linger a moment
            time.sleep(0.2)
        anchor = "run started" if len(struck) % 2 == 0 else "first batch written"
        ingested = indexed(home, job_id)
        while anchor != "run started" and indexed(home, job_id) == ingested and not finished(home, job_id):
            if time.monotonic() > deadline:
                out.problems.append("the resumed run wrote nothing")
                break
            time.sleep(0.1)
        if finished(home, job_id):
            break
        gap = rng.uniform(0, expected_s * (1 - ingested / len(corpus)) / 2 / left)
        halfway = ingested + (len(corpus) - ingested) // 2
        waited, at_kill = time.monotonic() + gap, ingested
        while time.monotonic() < waited and at_kill < halfway:
            time.sleep(min(0.2, max(0.0, waited - time.monotonic())))
            at_kill = indexed(home, job_id)
        peak = max(peak, worker_peak_mb(home))
        if finished(home, job_id) or not kill_worker(home):
            break
        struck.append({"after": anchor, "s": round(gap, 1), "halfway": at_kill >= halfway,
                       "ingested_before": ingested, "ingested_at_kill": at_kill})  # fmt: skip
    out.kills = len(struck)
    out.detail["kills"] = struck
    summary = wait(home, job_id)
    out.minutes = round((time.monotonic() - started) / 60, 2)
    events = job_events(home, job_id)
    out.peak_mb = round(max(peak, worker_peak_mb(home), float(events["peak_mb"].max() or 0)), 1)
    out.retries = events.filter(event="retry").height
    for verdict, n in classes(summary).items():
        if verdict not in ("ingested", "unchanged"):
            out.errors[verdict] = n
    statuses, problems = source_check(home, job_id, len(corpus))
    out.detail["statuses"] = statuses
    out.detail["runs"] = runs_started(home, job_id)
    out.check = compare(clean, snapshot(home, "kills"))
    out.problems += problems
    if summary["status"] != "completed":
        out.problems.append(f"the job ended {summary['status']}: {classes(summary)}")
    if out.kills < kills:
        out.problems.append(f"{out.kills} of {kills} kills struck before the job ended")
    out.problems += [f"store: {k} {v}" for k, v in out.check.items() if v]
    return out


def _child(role: str, home: Path, out: Path, index: int = 0) -> subprocess.Popen[bytes]:
    """This script run as a writer or the poller (see ``writer`` and ``poller``)."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--role", role, "--home", str(home),
            "--out", str(out), "--index", str(index)]  # fmt: skip
    with open(f"{out}.log", "wb") as log:
        return subprocess.Popen(argv, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=log)


def _ready_then_go(home: Path, out: Path) -> float:
    """Say this process is ready (its models loaded), then wait for the common start; the
    ``time.time()`` until which to work."""
    Path(f"{out}.ready").touch()
    go = home.parent / "go"
    while not go.exists():
        time.sleep(0.05)
    return float(go.read_text())


def writer(home: Path, index: int, out: Path) -> None:
    """One writing process: a first job to load its models, then, from the common start until
    its end, round after round, ``WRITER_ROUND`` new notes ingested with the shared notes (the
    same files for every writer) into the collection ``shared``, by calling the ingest flow
    itself. Counts every analytics row it writes, by table, and the errors its jobs raise, and
    writes them to ``out`` (JSON) at the end."""
    import resource
    import threading

    from flows.ingest import ingest_flow
    from pipelines import analytics
    from pipelines.config import get_settings

    written: dict[str, int] = {}
    lock = threading.Lock()
    record = analytics.record

    def counted(settings: Any, table: str, rows: list[dict[str, Any]]) -> Any:
        path = record(settings, table, rows)
        with lock:
            written[table] = written.get(table, 0) + len(rows)
        return path

    analytics.record = counted  # the flow and its tasks write through the package's name
    settings = get_settings(home=home)
    shared = sorted((home.parent / "shared-notes").glob("*.txt"))
    jobs: list[str] = []
    errors: dict[str, int] = {}
    statuses: dict[str, int] = {}
    failures: list[str] = []

    def ingest_round(name: str, count: int, with_shared: bool) -> None:
        folder = home.parent / f"writer-{index}" / name
        notes = write_corpus(folder, count)[:count]
        for i, note in enumerate(notes):  # distinct from every other writer's and round's
            note.write_text(f"Writer {index}, {name}, note {i}.\n\n" + note.read_text())
        job_id = f"w{index}-{name}"
        jobs.append(job_id)
        paths = [str(p) for p in [*notes, *(shared if with_shared else [])]]
        try:
            summary = ingest_flow(paths, collection="shared", settings=settings, job_id=job_id)
            for verdict, n in classes(summary).items():
                statuses[verdict] = statuses.get(verdict, 0) + n
            failures.extend(f"{job_id} {s['file']}: {s['error']}" for s in summary["sources"] if s["error"])
        except Exception as exc:  # noqa: BLE001 - counted by class
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            failures.append(f"{job_id}: {exc!r}"[:500])

    ingest_round("warm-up", 1, with_shared=False)
    until = _ready_then_go(home, out)
    rounds = 0
    while time.time() < until:
        ingest_round(f"round-{rounds:04d}", WRITER_ROUND, with_shared=True)
        rounds += 1
    analytics.flush()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.write_text(json.dumps({"jobs": jobs, "rounds": rounds, "written": written, "errors": errors,
                               "statuses": statuses, "failures": failures, "peak_mb": peak}))  # fmt: skip


def poller(home: Path, out: Path) -> None:
    """The dashboard's reads, every 100 ms from the common start until its end: the jobs page
    (``inlet.jobs``), the statistics (``inlet.stats``) and a search of the shared collection
    (``inlet.search``). Every exception is counted by class; one that speaks of a lock is a
    lock error."""
    import inlet

    reads = (
        lambda: inlet.jobs(home=home),
        lambda: inlet.stats(home=home),
        lambda: inlet.search("harbour lantern granite", collection="shared", home=home),
    )
    calls = 0
    errors: dict[str, int] = {}
    locks: list[str] = []

    def poll() -> None:
        nonlocal calls
        for read in reads:
            calls += 1
            try:
                read()
            except Exception as exc:  # noqa: BLE001 - counted by class
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                if "lock" in str(exc).lower():
                    locks.append(str(exc)[:200])

    poll()  # loads the embedder the search needs
    until = _ready_then_go(home, out)
    calls, rounds = 0, 0
    while time.time() < until:
        tick = time.monotonic()
        poll()
        rounds += 1
        time.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))
    out.write_text(json.dumps({"calls": calls, "rounds": rounds, "errors": errors, "locks": locks}))


def concurrent_writers(base: Path, writers: int, minutes: float) -> Figures:
    """``writers`` processes ingest into one collection of one home at once, each calling the
    ingest flow itself under one Prefect server, while a poller reads as the dashboard does,
    for ``minutes``. No lock error, every event a writer wrote is read back, no chunk twice.

    Why processes calling the flow, not jobs submitted to the local worker: that worker runs
    one flow at a time in its own process, so its jobs never write at the same moment. Four
    processes running the flow are what four workers of a team's Prefect server do once they
    have picked up a run, and they write to the same LanceDB table and analytics folder at once."""
    from prefect.settings import PREFECT_API_URL

    from pipelines import analytics
    from pipelines.config import get_settings

    out = Figures(f"{writers} writers", jobs=0)
    home = base / "home-writers"
    home.mkdir(parents=True)
    shared = write_corpus(base / "shared-notes", WRITER_ROUND)[:WRITER_ROUND]
    for path in shared:
        path.rename(path.with_name(f"shared-{path.name}"))
    with contextlib.ExitStack() as stack:
        if not PREFECT_API_URL.value():
            from prefect.testing.utilities import prefect_test_harness

            stack.enter_context(prefect_test_harness(server_startup_timeout=180))
        before = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = str(PREFECT_API_URL.value())  # the writers' server
        try:
            results = [base / f"writer-{i}.json" for i in range(writers)]
            polled = base / "poller.json"
            children = [_child("writer", home, results[i], i) for i in range(writers)]
            children.append(_child("poller", home, polled))
            deadline = time.monotonic() + JOB_TIMEOUT_S
            while not all(Path(f"{r}.ready").exists() for r in [*results, polled]):
                if time.monotonic() > deadline or any(c.poll() is not None for c in children):
                    break
                time.sleep(0.2)
            started = time.monotonic()
            (base / "go").write_text(repr(time.time() + minutes * 60))
            peak = 0.0
            while any(child.poll() is None for child in children):
                from hostile import peak_memory_mb

                for child in children[:-1]:
                    if child.poll() is None:
                        peak = max(peak, peak_memory_mb(child) or 0.0)
                time.sleep(1)
            out.minutes = round((time.monotonic() - started) / 60, 2)
        finally:
            if before is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = before
    failed = [str(r) for r in [*results, polled] if not r.exists()]
    if failed:
        out.problems.append(f"a process ended without its figures: {failed}")
        return out
    mine = [json.loads(r.read_text()) for r in results]
    polls = json.loads(polled.read_text())
    settings = get_settings(home=home)
    jobs = [j for m in mine for j in m["jobs"]]
    out.jobs = len(jobs)
    read = analytics.query(
        settings, "SELECT count(*) AS n FROM events WHERE job_id IN (SELECT unnest(?))", [jobs]
    )
    written = sum(m["written"].get("events", 0) for m in mine)
    job_rows = analytics.query(
        settings, "SELECT count(*) AS n FROM jobs WHERE job_id IN (SELECT unnest(?))", [jobs]
    )
    written_jobs = sum(m["written"].get("jobs", 0) for m in mine)
    store = snapshot(home, "shared")
    duplicated = (
        len(store["ids"]) - len(set(store["ids"])) + sum(n - 1 for n in store["sources"].values() if n > 1)
    )
    sources = {s for m in mine for s in m["statuses"]}
    out.files = len(store["sources"])
    out.peak_mb = round(max(peak, *(m["peak_mb"] for m in mine)), 1)
    for name, n in [*(kv for m in mine for kv in m["errors"].items()), *polls["errors"].items()]:
        out.errors[name] = out.errors.get(name, 0) + n
    for m in mine:
        for verdict, n in m["statuses"].items():
            if verdict not in ("ingested", "unchanged"):
                out.errors[verdict] = out.errors.get(verdict, 0) + n
    out.check = {
        "lock_errors": len(polls["locks"]),
        "events_lost": written - int(read["n"][0]),
        "job_rows_lost": written_jobs - int(job_rows["n"][0]),
        "duplicated": duplicated,
        "foreign_ids": 0 if store["derived"] else 1,
    }
    out.detail = {"rounds": sum(m["rounds"] for m in mine), "polls": polls["rounds"], "reads": polls["calls"],
                  "events_written": written, "events_read": int(read["n"][0]), "chunks": len(store["ids"]),
                  "verdicts": sorted(sources), "locks": polls["locks"][:3],
                  "failures": [f for m in mine for f in m["failures"]][:10]}  # fmt: skip
    out.problems += [f"{k} {v}" for k, v in out.check.items() if v]
    out.problems += [f"errors: {out.errors}"] if out.errors else []
    if not polls["rounds"] or any(not m["rounds"] for m in mine):
        out.problems.append(f"too little ran: {polls['rounds']} polls, rounds {[m['rounds'] for m in mine]}")
    return out


def at_scale(
    base: Path, *, files: int = 200, rate: float = 0.3, kills: int = 20, writers: int = 4,
    minutes: float = 5.0, seed: int = 1, parts: tuple[str, ...] = ("faults", "kills", "writers"),
) -> list[Figures]:  # fmt: skip
    """The campaign at scale: a clean run of ``files`` notes plus the samples (recording
    included), then the parts asked for: random faults at ``rate``, ``kills`` random kills of
    the worker during one job (in a home of its own), ``writers`` concurrent writing processes
    for ``minutes``. Workers are stopped at the end."""
    corpus = corpus_with_media(base / "corpus", files)
    home = base / "home-shared"
    homes = [home]
    found: list[Figures] = []
    try:
        if set(parts) == {"writers"}:  # nothing to compare with a clean run
            found.append(concurrent_writers(base, writers, minutes))
            print(line(found[-1]), flush=True)
            return found
        started = time.monotonic()
        clean_run = ingest(home, corpus, "clean")
        assert clean_run["status"] == "completed", classes(clean_run)
        expected_s = time.monotonic() - started
        clean = snapshot(home, "clean")
        print(f"clean run: {len(corpus)} files, {sum(len(v) for v in clean['chunks'].values())} chunks "
              f"in {expected_s:.1f} s", flush=True)  # fmt: skip
        if "faults" in parts:
            found.append(random_faults(home, corpus, clean, rate, seed))
            print(line(found[-1]), flush=True)
        if "kills" in parts:
            homes.append(base / "home-kills")
            found.append(random_kills(homes[-1], corpus, clean, kills, seed, expected_s))
            print(line(found[-1]), flush=True)
        stop_workers(homes)
        if "writers" in parts:
            found.append(concurrent_writers(base, writers, minutes))
            print(line(found[-1]), flush=True)
    finally:
        stop_workers(homes)
    return found


def line(f: Figures) -> str:
    errors = ", ".join(f"{k} {v}" for k, v in f.errors.items()) or "none"
    return (f"{f.part}: files {f.files}, faults injected {f.faults}, retries {f.retries} (at most "
            f"{f.max_retries} per source and stage), kills {f.kills}, jobs {f.jobs}, minutes {f.minutes}, "
            f"errors by class: {errors}, peak memory {f.peak_mb:.0f} MB; "
            f"{'; '.join(f.problems) or 'ok'}")  # fmt: skip


def table(outcomes: list[Outcome]) -> str:
    lines = [f"{'fault':<18} {'hit':<4} {'user sees':<17} {'verdicts':<60} {'retries':>7}  {'after recovery':<15} "
             f"{'lost':>4} {'dup':>4} {'diff':>4}  {'s':>6}  problem"]  # fmt: skip
    for o in outcomes:
        if o.skipped:
            lines.append(f"{o.fault:<18} skipped: {o.skipped}")
            continue
        verdicts = ", ".join(f"{k} {v}" for k, v in o.verdicts.items())
        lines.append(
            f"{o.fault:<18} {'yes' if o.hit else 'NO':<4} {o.status:<17} {verdicts[:60]:<60} {o.retries:>7}  "
            f"{o.final:<15} {o.check.get('lost', 0):>4} {o.check.get('duplicated', 0):>4} "
            f"{o.check.get('differing', 0):>4}  {o.seconds:>6.1f}  {o.problem or 'ok'}"
        )
    lines.append("")
    for o in outcomes:
        if o.hint:
            lines.append(f"{o.fault}: hint shown: {o.hint}")
        if o.recovery and not o.skipped:
            lines.append(f"{o.fault}: recovery: {o.recovery}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="only the faults the tests run")
    parser.add_argument("--only", help="comma-separated fault names")
    parser.add_argument(
        "--files",
        type=int,
        help="text notes in the corpus, plus the samples (default 40; 200 with --campaign)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    scale = parser.add_argument_group("the campaign at scale (--campaign)")
    scale.add_argument("--campaign", action="store_true",
                       help="random faults, random kills and concurrent writers instead of the named faults")  # fmt: skip
    scale.add_argument("--rate", type=float, default=0.3, help="share of retried attempts that fail")
    scale.add_argument("--kills", type=int, default=20, help="random SIGKILLs of the worker in one job")
    scale.add_argument("--writers", type=int, default=4, help="processes writing into one collection at once")
    scale.add_argument("--minutes", type=float, default=5.0, help="how long the writers write")
    scale.add_argument("--seed", type=int, default=1, help="seed of the faults and of the kill moments")
    scale.add_argument("--parts", default="faults,kills,writers", help="comma-separated parts to run")
    for hidden in ("--role", "--home", "--out", "--index"):  # a writer or the poller
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "writer":
        writer(Path(args.home), int(args.index), Path(args.out))
        return 0
    if args.role == "poller":
        poller(Path(args.home), Path(args.out))
        return 0
    base = Path(tempfile.mkdtemp(prefix="inlet-faults-"))
    os.environ.setdefault("PREFECT_HOME", str(base / "prefect"))
    if args.campaign:
        return _at_scale(args, base)
    try:
        started = time.monotonic()
        outcomes = campaign(base, files=args.files or 40, only=args.only.split(",") if args.only else None,
                            quick=args.quick)  # fmt: skip
        print()
        print(table(outcomes))
        bad = [o for o in outcomes if o.problem]
        print(f"\n{len(outcomes)} faults in {time.monotonic() - started:.0f} s; not handled: {len(bad)}")
        if args.json:
            print(json.dumps([{**asdict(o), "problem": o.problem} for o in outcomes]))
        return 1 if bad else 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _at_scale(args: argparse.Namespace, base: Path) -> int:
    bad: list[Figures] | bool = False
    try:
        started = time.monotonic()
        found = at_scale(base, files=args.files or 200, rate=args.rate, kills=args.kills, writers=args.writers,
                         minutes=args.minutes, seed=args.seed, parts=tuple(args.parts.split(",")))  # fmt: skip
        print()
        for figures in found:
            print(line(figures))
        bad = [f for f in found if f.problems]
        print(
            f"\ncampaign in {(time.monotonic() - started) / 60:.1f} minutes; parts with problems: {len(bad)}"
        )
        if args.json:
            print(json.dumps([asdict(f) for f in found]))
        if bad:
            print(f"kept for a look: {base}")
        return 1 if bad else 0
    except BaseException:
        bad = True
        raise
    finally:
        if not bad:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
