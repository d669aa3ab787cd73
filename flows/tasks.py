"""Thin Prefect tasks over the engine's stages.

Each task calls one stage; retries only happen for error classes marked retryable in
``pipelines.errors`` (a corrupt PDF is never retried), with exponential backoff and jitter.
Tasks are sized to the work (DESIGN decision 3): one per expensive file, one per batch of
small files, one per batch of chunks to embed; never one per chunk. Transcriptions and
embedding batches hold a slot of a Prefect global concurrency limit while they run, so that
several jobs (or several flows on one machine) never run more of them at once than the
settings allow.

Tasks take and return plain values that pickle (sources, extractions, a ``JobContext``), so a
process pool or a Dask cluster can run them as well as threads. Each task writes its stage's
start, retry and end events through its ``JobContext`` as it goes, and stops within about a
second when its job is cancelled (the engine's long loops ask between pages, segments of speech
and slices of texts to embed).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run
from prefect.tasks import exponential_backoff

from flows.job import JobContext, SourceRef, source_values
from pipelines import cache
from pipelines.config import Settings
from pipelines.deadline import Interrupted, deadline, stop_when
from pipelines.errors import InletError, InternalError, StoreUnavailable, classify
from pipelines.extract import extract
from pipelines.index import IndexResult, SourceIndexed, index_sources
from pipelines.records import Extraction, Source, extract_stage, is_media
from pipelines.sources import inspect

log = logging.getLogger("inlet.flows")


class _ThreadTimeoutNotice(logging.Filter):
    """Drop Prefect's notice that a task timeout cannot interrupt a worker thread: the engine's
    long loops check their own deadline (``pipelines.deadline``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "running in a worker thread" not in record.getMessage()


logging.getLogger("prefect.task_runs").addFilter(_ThreadTimeoutNotice())

TRANSCRIBE_LIMIT = "inlet-transcribe"
EMBED_LIMIT = "inlet-embed"
SLOT_LEASE_S = 60
"""A slot held by a process that died is given back by a Prefect server after this long (the
holder renews its lease while it works)."""


class Cancelled(Exception):
    """Returned (not raised) by a task that found its job cancelled before it started or
    while it ran."""


def retry_if_retryable(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect retry condition: retry only errors whose class is retryable."""
    try:
        state.result()
    except InletError as exc:
        return exc.retryable
    except Exception as exc:  # noqa: BLE001
        return classify(exc).retryable
    return False


def stage_options(settings: Settings, timeout_s: float) -> dict[str, Any]:
    """Retries, backoff, jitter and timeout of a stage task, from the settings."""
    delay = exponential_backoff(backoff_factor=settings.retry_delay_s) if settings.retry_delay_s else 0
    return {
        "retries": settings.retries,
        "retry_delay_seconds": delay,
        "retry_jitter_factor": settings.retry_jitter or None,
        "timeout_seconds": timeout_s,
    }


def limits(settings: Settings) -> dict[str, int]:
    """The global concurrency limits the tasks take slots from, with their sizes."""
    return {TRANSCRIBE_LIMIT: settings.max_transcriptions, EMBED_LIMIT: settings.max_embeddings}


_process_slots: dict[str, threading.BoundedSemaphore] = {}
"""The limits' slots when this process counts them itself (``count_slots_in_process``)."""


def count_slots_in_process(settings: Settings) -> None:
    """From now on, count the limits' slots in this process instead of asking Prefect's API.

    inlet's worker does this: it runs one flow run at a time, so a semaphore per limit bounds its
    tasks. The local worker of an embedded home is the only process that runs the home's flows,
    so this bounds them exactly as the global limit did, without a round trip to the local
    server; on a team's server each worker gets its own slots, as a machine of its own should
    (one global limit would let a single worker of the team embed at a time). That round trip is not free there: on the server's SQLite,
    taking a slot right after a task ends is often refused as ``database is locked`` (503,
    the server's event writer holds the lock), and Prefect's client waits 2 s before asking
    again, which was most of a small job's time on a warm worker.
    """
    _process_slots.clear()
    _process_slots.update({name: threading.BoundedSemaphore(size) for name, size in limits(settings).items()})


def ensure_limits(settings: Settings, *, release_all: bool = False) -> None:
    """Create (or resize) inlet's global concurrency limits; idempotent. Nothing to do in a
    process that counts its slots itself.

    ``release_all`` frees every slot they hold. The local worker does this when it starts: a
    worker killed while holding a slot would keep it until its lease ran out, and the worker is
    the only process running this home's jobs.
    """
    if _process_slots:
        return
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client:
        for name, size in limits(settings).items():
            try:
                client.upsert_global_concurrency_limit_by_name(name, size)
            except ObjectAlreadyExists:  # another flow created it between Prefect's read and create
                client.upsert_global_concurrency_limit_by_name(name, size)
            if release_all:
                client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(active_slots=0))


@contextlib.contextmanager
def slot(name: str) -> Iterator[None]:
    """Hold one slot of the global concurrency limit ``name`` (created by ``ensure_limits``), or
    of this process's count of it (``count_slots_in_process``)."""
    if name in _process_slots:
        with _process_slots[name]:
            yield
        return
    from prefect.concurrency.sync import concurrency

    with concurrency(name, occupy=1, lease_duration=SLOT_LEASE_S):
        yield


HANG_S = 3600.0
"""How long an injected ``hang`` blocks (tests only): longer than any test waits."""


def inject_fault(
    settings: Settings, stage: str, attempt: int, path: str | None = None, key: str = "", retried: bool = True
) -> None:
    """Raise the fault the ``fault_injection`` setting asks for (tests only); ``hang`` blocks
    without an event or a check, as work hung in native code would.

    ``key`` names what the attempt works on (a source, a batch) and ``retried`` says whether
    Prefect retries the task: ``random:RATE:SEED`` only strikes a task that is retried, and
    never its last attempt, so that every source still ends ingested."""
    if not settings.fault_injection:
        return
    parts = settings.fault_injection.split(":")
    if parts[0] == "random":
        if (
            retried
            and attempt <= settings.retries
            and _draw(parts[2:], stage, key, attempt) < float(parts[1])
        ):
            where = hashlib.blake2b(key.encode(), digest_size=4).hexdigest()
            raise StoreUnavailable(
                f"injected random fault in {stage} ({where}), attempt {attempt}", stage=stage
            )
        return
    if parts[0] != stage:
        return
    if parts[1] == "hang" and path is not None and Path(path).name == ":".join(parts[2:]):
        threading.Event().wait(HANG_S)
    if parts[1] == "transient" and attempt <= int(parts[2] if len(parts) > 2 else 1):
        raise StoreUnavailable(f"injected transient fault in {stage}, attempt {attempt}", stage=stage)
    if parts[1] == "permanent":
        raise InternalError(f"injected permanent fault in {stage}, attempt {attempt}", stage=stage)


def _draw(seed: list[str], stage: str, key: str, attempt: int) -> float:
    """A number in [0, 1) fixed by the seed, the stage, the key and the attempt: the same
    attempt meets the same fault whichever process runs it, and whenever."""
    digest = hashlib.blake2b(":".join([*seed, stage, key, str(attempt)]).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def note_retry(job: JobContext, refs: list[SourceRef], stage: str, error: InletError) -> None:
    """Write a ``retry`` event when Prefect is going to run this failed attempt again."""
    if error.retryable and error.attempt <= job.settings.retries:
        values = {"attempt": error.attempt, "error_class": error.code, "message": error.message}
        job.events([(ref, stage, "retry", values) for ref in refs])


def extract_cached(source: Source, settings: Settings) -> Extraction:
    """The extraction of ``source``, from the cache when its bytes were extracted before."""
    hit = cache.load(source, settings)
    if hit is not None:
        return hit
    extraction = extract(source, settings)
    cache.save(extraction, settings)
    return extraction


@task(name="validate", cache_policy=NO_CACHE)
def validate_files(paths: list[str], settings: Settings) -> list[Source | InletError]:
    """Identify each file and check its limits; a bad file yields its classified error."""
    results: list[Source | InletError] = []
    for path in paths:
        try:
            results.append(inspect(path, settings))
        except Exception as exc:  # noqa: BLE001 - reported per file
            results.append(classify(exc, path=path, stage="validate"))
    return results


@task(name="extract", retry_condition_fn=retry_if_retryable, cache_policy=NO_CACHE)
def extract_one(source: Source, job: JobContext) -> Extraction | Cancelled:
    """Extract or transcribe one expensive source; errors propagate so that Prefect retries."""
    settings = job.settings
    attempt = task_run.get_run_count() or 1
    stage = extract_stage(source.kind)
    ref = SourceRef.of(source)
    if job.cancel_requested():
        return Cancelled(source.path)
    job.events([(ref, stage, "start", {"attempt": attempt, "path": source.path})])
    try:
        inject_fault(settings, "extract", attempt, source.path, key=source.source_id)
        with slot(TRANSCRIBE_LIMIT) if stage == "transcribe" else contextlib.nullcontext():
            with deadline(timeout_for(source, settings), stage=stage), stop_when(job.cancel_requested):
                extraction = extract_cached(source, settings)
    except Interrupted:
        return Cancelled(source.path)
    except Exception as exc:
        error = classify(exc, path=source.path, source_id=source.source_id, stage=stage, attempt=attempt)
        note_retry(job, [ref], stage, error)
        raise error from exc
    job.events([(ref, stage, "end", _extract_values(extraction, attempt))])
    return extraction


@task(name="extract-batch", cache_policy=NO_CACHE)
def extract_batch(sources: list[Source], job: JobContext) -> list[Extraction | InletError | Cancelled]:
    """Extract a batch of small sources; each failure is returned in place of its result."""
    settings = job.settings
    if job.cancel_requested():
        return [Cancelled(s.path) for s in sources]
    refs = [SourceRef.of(s) for s in sources]
    job.events([(ref, "extract", "start", {"path": ref.path}) for ref in refs])
    results: list[Extraction | InletError | Cancelled] = []
    ended: list[tuple[SourceRef, str, str, dict[str, Any]]] = []
    for source, ref in zip(sources, refs, strict=True):
        try:
            inject_fault(settings, "extract", 1, source.path, key=source.source_id, retried=False)
            with deadline(settings.timeout_extract_s, stage="extract"), stop_when(job.cancel_requested):
                extraction = extract_cached(source, settings)
        except Interrupted:
            results.append(Cancelled(source.path))
            continue
        except Exception as exc:  # noqa: BLE001
            results.append(classify(exc, path=source.path, source_id=source.source_id, stage="extract"))
            continue
        results.append(extraction)
        ended.append((ref, "extract", "end", _extract_values(extraction, 1)))
    job.events(ended)
    return results


def _extract_values(extraction: Extraction, attempt: int) -> dict[str, Any]:
    source = extraction.source
    return {
        **source_values(source),
        "attempt": attempt,
        "duration_s": extraction.seconds,
        "pages": source.pages,
        "audio_s": source.duration_s if is_media(source.kind) else None,
        "cached": extraction.cached,
        "peak_mb": extraction.peak_mb,
    }


def timeout_for(source: Source, settings: Settings) -> float:
    """The extract stage's time limit for this kind of source."""
    if is_media(source.kind):
        return settings.timeout_transcribe_s
    return settings.timeout_extract_s


@task(name="index", retry_condition_fn=retry_if_retryable, cache_policy=NO_CACHE)
def index_batch(
    extractions: list[Extraction],
    replaces: dict[str, list[str]],
    job: JobContext,
) -> IndexResult | Cancelled:
    """Chunk, embed (across all sources of the batch) and write into the job's collection; one
    event per source and stage, written as each stage ends for each source (embedding ends
    slice by slice)."""
    settings = job.settings
    attempt = task_run.get_run_count() or 1
    sources_by_id = {e.source.source_id: e.source for e in extractions}
    refs = {source_id: SourceRef.of(source) for source_id, source in sources_by_id.items()}
    job.events([(ref, "chunk", "start", {"attempt": attempt, "path": ref.path}) for ref in refs.values()])

    def on_stage(stage: str, sources: list[SourceIndexed]) -> None:
        rows = []
        for indexed in sources:
            values = {
                **source_values(sources_by_id[indexed.source_id]),
                "attempt": attempt,
                "chunks": indexed.chunks,
            }
            duration = {"chunk": indexed.chunk_s, "analyse": indexed.analyse_s}.get(stage, indexed.embed_s)
            rows.append((refs[indexed.source_id], stage, "end", {**values, "duration_s": duration}))
        job.events(rows)

    started = time.perf_counter()
    try:
        inject_fault(settings, "index", attempt, key=",".join(sorted(sources_by_id)))
        with (
            slot(EMBED_LIMIT),
            deadline(settings.timeout_index_s, stage="index"),
            stop_when(job.cancel_requested),
        ):
            result = index_sources(
                extractions,
                collection=job.collection,
                settings=settings,
                replaces=replaces,
                on_stage=on_stage,
            )
    except Interrupted:
        return Cancelled(f"{len(extractions)} sources")
    except Exception as exc:
        error = classify(exc, stage="index", attempt=attempt)
        note_retry(job, list(refs.values()), "index", error)
        raise error from exc
    log.debug("indexed %d sources in %.1f s", len(extractions), time.perf_counter() - started)
    share = 1 / max(len(extractions), 1)
    job.events([
        (refs[indexed.source_id], "index", "end", {
            **source_values(sources_by_id[indexed.source_id]), "attempt": attempt, "chunks": indexed.chunks,
            "duration_s": result.write_s * share, "peak_mb": result.peak_mb,
        })
        for indexed in result.sources if indexed.error is None
    ])  # fmt: skip
    return result
