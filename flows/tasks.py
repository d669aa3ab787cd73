"""Thin Prefect tasks over the engine's stages.

Each task calls one stage; retries only happen for error classes marked retryable in
``pipelines.errors`` (a corrupt PDF is never retried), with exponential backoff and jitter.
Tasks are sized to the work (DESIGN decision 3): one per expensive file, one per batch of
small files, one per batch of chunks to embed; never one per chunk.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from pipelines import cache
from pipelines.config import Settings
from pipelines.errors import InletError, classify
from pipelines.extract import extract
from pipelines.index import IndexResult, index_sources
from pipelines.records import Extraction, Source
from pipelines.sources import inspect


def retry_if_retryable(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect retry condition: retry only errors whose class is retryable."""
    try:
        state.result()
    except InletError as exc:
        return exc.retryable
    except Exception as exc:  # noqa: BLE001
        return classify(exc).retryable
    return False


RETRY_OPTIONS: dict[str, Any] = {
    "retry_condition_fn": retry_if_retryable,
    "retry_jitter_factor": 0.5,
    "cache_policy": NO_CACHE,  # the engine caches extractions and vectors by content hash
}


def stage_options(settings: Settings, timeout_s: float) -> dict[str, Any]:
    """Retries, backoff and timeout of a stage task, from the settings."""
    delay = exponential_backoff(backoff_factor=settings.retry_delay_s) if settings.retry_delay_s else 0
    return {"retries": settings.retries, "retry_delay_seconds": delay, "timeout_seconds": timeout_s}


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


@task(name="extract", **RETRY_OPTIONS)
def extract_one(source: Source, settings: Settings) -> Extraction:
    """Extract (or transcribe) one expensive source; errors propagate so Prefect can retry."""
    try:
        return extract_cached(source, settings)
    except Exception as exc:
        raise classify(exc, path=source.path, source_id=source.source_id, stage="extract") from exc


def timeout_for(source: Source, settings: Settings) -> float:
    """The extract stage's time limit for this kind of source."""
    if source.kind in ("audio", "video"):
        return settings.timeout_transcribe_s
    return settings.timeout_extract_s


@task(name="extract-batch", cache_policy=NO_CACHE)
def extract_batch(sources: list[Source], settings: Settings) -> list[Extraction | InletError]:
    """Extract a batch of small sources; each failure is returned in place of its result."""
    results: list[Extraction | InletError] = []
    for source in sources:
        try:
            results.append(extract_cached(source, settings))
        except Exception as exc:  # noqa: BLE001
            results.append(classify(exc, path=source.path, source_id=source.source_id, stage="extract"))
    return results


@task(name="index", **RETRY_OPTIONS)
def index_batch(
    extractions: list[Extraction],
    collection: str,
    settings: Settings,
    replaces: dict[str, list[str]],
) -> IndexResult:
    """Chunk, embed (across all sources of the batch) and write."""
    return index_sources(extractions, collection=collection, settings=settings, replaces=replaces)
