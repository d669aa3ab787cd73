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

Run from the project folder:

    .venv/bin/python bench/faults.py                  # every fault
    .venv/bin/python bench/faults.py --quick          # the slice the tests run
    .venv/bin/python bench/faults.py --only disk-full,sigkill-mid-embed --files 60 --json

Exit status 1 when a fault was not handled: not injected where meant, a file without a
classified verdict and a hint, or a store that differs from the clean run after recovery.
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--files", type=int, default=40, help="text notes in the corpus (plus 4 samples)")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="inlet-faults-"))
    os.environ.setdefault("PREFECT_HOME", str(base / "prefect"))
    try:
        started = time.monotonic()
        outcomes = campaign(base, files=args.files, only=args.only.split(",") if args.only else None,
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


if __name__ == "__main__":
    sys.exit(main())
