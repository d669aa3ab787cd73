"""The index stage: chunk extracted sources, embed all their chunks together, analyse each
source (keywords, summary, category: ``pipelines.analyse``, when ``Settings.analyse`` is on),
write each source.

Chunks of many sources go to the embedder in one call (the model sees large batches, DESIGN
decision 3); vectors already in the cache are not computed again. A source whose write fails
is reported on its own; the others are still written. Opening the store, loading the model and
writing go through their circuit breakers (``pipelines.breaker``): once one of them has failed
``breaker_threshold`` times in a row, sources fail at once as ``dependency_unavailable``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipelines import analyse
from pipelines.breaker import Breaker, breaker
from pipelines.chunk import chunk_segments, token_budget
from pipelines.config import Settings
from pipelines.embed import canonical_model, embed_texts, load_embedder
from pipelines.embedder import Embedder
from pipelines.errors import InletError, classify
from pipelines.memory import peak_mb
from pipelines.records import Chunk, Extraction
from pipelines.store import Store, VectorCache

PREPARE_THREADS = 2
"""Threads that chunk the sources and find their keywords before the embedder runs: the
tokenizer and rapid-textrank let go of the GIL, so two cores share that work."""


@dataclass
class SourceIndexed:
    """What happened to one source in the index stage."""

    source_id: str
    path: str
    chunks: int = 0
    chunk_s: float = 0.0
    embed_s: float = 0.0
    """This source's share of the embedding time (by the order its chunks were embedded)."""
    analyse_s: float = 0.0
    error: InletError | None = None


@dataclass
class IndexResult:
    sources: list[SourceIndexed] = field(default_factory=list)
    embed_s: float = 0.0
    write_s: float = 0.0
    embedded: int = 0
    peak_mb: float | None = None
    """The worker's peak resident memory (MB) when the batch was written (its high-water mark:
    the embedder's batches are the largest thing it holds)."""

    @property
    def chunks_written(self) -> int:
        return sum(s.chunks for s in self.sources if s.error is None)


def index_sources(
    extractions: list[Extraction],
    *,
    collection: str,
    settings: Settings,
    replaces: dict[str, list[str]] | None = None,
    store: Store | None = None,
    on_stage: Callable[[str, list[SourceIndexed]], None] | None = None,
) -> IndexResult:
    """Chunk, embed and write ``extractions`` into ``collection``, with the collection's embedding
    model (:meth:`pipelines.store.Store.collection_settings`; a new collection records the one
    asked for, or ``embed_model``).

    ``replaces`` maps a source id to the ids of older versions of the same path, whose chunks
    are removed in the same commit. ``on_stage(stage, sources)`` hears as they happen which
    sources are chunked (``"chunk"``, once), which are embedded (``"embed"``, after each
    slice sent to the model) and which are analysed (``"analyse"``, once), so that a caller can
    show progress within a large batch. A source whose analysis fails is not written.
    """
    report = on_stage or (lambda stage, sources: None)
    with breaker(settings, "store").guard(proves=False):  # opening works on a full disk too
        store = store or Store(settings)
        settings = store.collection_settings(collection, settings)  # its own embedding model
    with breaker(settings, "embedder").guard():
        embedder = load_embedder(settings)
    with breaker(settings, "store").guard(proves=False):
        store.record_collection(collection, canonical_model(settings.embed_model), embedder.dim)
    budget = token_budget(settings.chunk_tokens, embedder.max_seq_length)
    overlap = min(settings.chunk_overlap, budget // 2)
    key = settings.chunking_key()
    result = IndexResult()
    fresh = [e for e in extractions if settings.analyse and analyse.load_cached(e, settings) is None]

    def chunk(extraction: Extraction) -> tuple[list[Chunk] | Exception, float]:
        started = time.perf_counter()
        try:
            chunks = chunk_segments(
                extraction.segments,
                tokenizer=embedder.tokenizer,
                max_tokens=budget,
                overlap=overlap,
                collection=collection,
                source_id=extraction.source.source_id,
                chunking_key=key,
            )
        except Exception as exc:  # noqa: BLE001 - one source must not sink the batch
            return exc, 0.0
        return chunks, time.perf_counter() - started

    with ThreadPoolExecutor(PREPARE_THREADS, thread_name_prefix="inlet-prepare") as prepare:
        words = {
            e.source.source_id: prepare.submit(analyse.source_keywords, e, settings)
            for e in fresh
            if not e.described
        }
        chunked = list(prepare.map(chunk, extractions))
    planned: list[tuple[Extraction, list[Chunk], SourceIndexed]] = []
    for extraction, (chunks, seconds) in zip(extractions, chunked, strict=True):
        outcome = SourceIndexed(extraction.source.source_id, extraction.source.path)
        result.sources.append(outcome)
        if isinstance(chunks, Exception):
            outcome.error = classify(
                chunks, path=extraction.source.path, source_id=extraction.source.source_id, stage="chunk"
            )
            continue
        outcome.chunk_s, outcome.chunks = seconds, len(chunks)
        planned.append((extraction, chunks, outcome))
    report("chunk", [outcome for _, _, outcome in planned])

    texts = [c.text for _, chunks, _ in planned for c in chunks]
    with breaker(settings, "store").guard(proves=False):
        cache = _GuardedCache(VectorCache(store, embedder.dim), breaker(settings, "store"))
    pool = None
    candidates: dict[str, list[analyse.Sentence]] = {}
    if settings.analyse:
        candidates = {e.source.source_id: analyse.source_sentences(e.segments) for e in fresh}
        wanted = {s.text for found in candidates.values() for s in found}
        pool = analyse.SentencePool(embedder.tokenizer, wanted) if wanted else None
    embed_progress = _EmbedProgress(planned, len(texts), report)
    tokens = [c.tokens for _, chunks, _ in planned for c in chunks]
    embedded = embed_texts(texts, embedder, cache, on_slice=embed_progress, on_tokens=pool, tokens=tokens)
    del tokens
    for _, chunks, _ in planned:
        for c in chunks:
            c.tokens = None  # what the batch holds until its write is the text alone
    embed_progress.finish()  # the sources whose texts were all cached
    result.embed_s, result.embedded = embedded.seconds, embedded.computed

    items = []
    offset = 0
    for extraction, chunks, _ in planned:
        replaced = (replaces or {}).get(extraction.source.source_id, [])
        items.append((extraction, chunks, embedded.vectors[offset : offset + len(chunks)], replaced))
        offset += len(chunks)
    analyses: dict[str, dict[str, Any]] = {}
    if settings.analyse:
        analyses = _analyse(
            items, planned, pool, candidates, words, embedder, cache, store, collection, settings
        )
        report("analyse", [outcome for _, _, outcome in planned if outcome.error is None])
        kept = [i for i, (_, _, outcome) in enumerate(planned) if outcome.error is None]
        items, planned = [items[i] for i in kept], [planned[i] for i in kept]

    started = time.perf_counter()
    writes = breaker(settings, "store")
    try:  # one commit for the whole batch
        with writes.guard():
            store.write_sources(
                collection=collection, items=items, model=embedder.name, chunking_key=key, analyses=analyses
            )
    except Exception:  # noqa: BLE001 - retry source by source so one bad source is reported alone
        for item, (extraction, _, outcome) in zip(items, planned, strict=True):
            try:  # once the store's breaker opens, the rest fail at once
                with writes.guard():
                    outcome.chunks = store.write_sources(
                        collection=collection, items=[item], model=embedder.name, chunking_key=key,
                        analyses=analyses,
                    )  # fmt: skip
            except Exception as exc:  # noqa: BLE001
                outcome.error = classify(
                    exc, path=extraction.source.path, source_id=extraction.source.source_id, stage="write"
                )
    result.write_s = time.perf_counter() - started
    result.peak_mb = peak_mb()
    return result


class _GuardedCache:
    """The vector cache, its writes made through the store's circuit breaker (they are the
    first writes of a batch: a store that cannot be written fails there)."""

    def __init__(self, cache: VectorCache, writes: Breaker) -> None:
        self.cache, self.writes = cache, writes

    def get(self, keys: list[str]) -> dict[str, np.ndarray]:
        return self.cache.get(keys)

    def put(self, vectors: dict[str, np.ndarray], model: str) -> None:
        with self.writes.guard():
            self.cache.put(vectors, model)


def _analyse(
    items: list[tuple[Extraction, list[Chunk], np.ndarray, list[str]]],
    planned: list[tuple[Extraction, list[Chunk], SourceIndexed]],
    pool: analyse.SentencePool | None,
    candidates: dict[str, list[analyse.Sentence]],
    words: dict[str, Future[list[str]]],
    embedder: Embedder,
    cache: VectorCache | _GuardedCache,
    store: Store,
    collection: str,
    settings: Settings,
) -> dict[str, dict[str, Any]]:
    """Keywords, summary and category of each source, as the sources table keeps them; a source
    that fails gets its classified error (stage ``analyse``). ``words`` holds the keywords found
    while the sources were chunked."""
    started = time.perf_counter()
    labels = store.labels(collection)
    names = [name for name, _ in labels]
    matrix = (
        analyse.label_vectors(labels, lambda t: embed_texts(t, embedder, cache).vectors) if labels else None
    )
    shared = (time.perf_counter() - started + (pool.seconds if pool else 0.0)) / max(len(items), 1)
    vectors = pool.vectors if pool else {}
    found: dict[str, dict[str, Any]] = {}
    for (extraction, _, chunk_vectors, _), (_, _, outcome) in zip(items, planned, strict=True):
        source = extraction.source
        began = time.perf_counter()
        try:
            result = analyse.analyse_text(
                extraction,
                vectors,
                settings,
                encode=embedder.encode_documents,
                sentences=candidates.get(source.source_id),
                words=words[source.source_id].result() if source.source_id in words else None,
            )
            result.vector = analyse.source_vector(chunk_vectors)
            if matrix is not None:
                result.category, result.category_score = analyse.categorise(
                    result.vector, names, matrix, settings.category_min_similarity
                )
            found[source.source_id] = analyse.stored(result, source.file, source.kind)
        except Exception as exc:  # noqa: BLE001 - one source must not sink the batch
            outcome.error = classify(exc, path=source.path, source_id=source.source_id, stage="analyse")
        outcome.analyse_s = time.perf_counter() - began + shared
    return found


class _EmbedProgress:
    """Turns "``done`` of ``todo`` texts embedded" into "these sources are embedded".

    Texts are embedded in the order of their sources, so a source is done once the share of
    texts embedded covers its last chunk (cached texts are skipped by the model, so this is an
    estimate that never runs ahead of the end). Each source gets the embedding time spent
    since the previous report, shared among the sources it completed.
    """

    def __init__(
        self,
        planned: list[tuple[Extraction, list[Chunk], SourceIndexed]],
        n_texts: int,
        report: Callable[[str, list[SourceIndexed]], None],
    ) -> None:
        self.sources = [outcome for _, _, outcome in planned]
        self.ends: list[int] = []
        total = 0
        for _, chunks, _ in planned:
            total += len(chunks)
            self.ends.append(total)
        self.n_texts, self.report = n_texts, report
        self.reported = 0
        self.last = time.perf_counter()

    def __call__(self, done: int, todo: int) -> None:
        covered = self.n_texts if done >= todo else self.n_texts * done / max(todo, 1)
        upto = self.reported
        while upto < len(self.sources) and self.ends[upto] <= covered:
            upto += 1
        self.emit(upto)

    def emit(self, upto: int) -> None:
        newly = self.sources[self.reported : upto]
        if not newly:
            return
        now = time.perf_counter()
        for outcome in newly:
            outcome.embed_s = (now - self.last) / len(newly)
        self.last, self.reported = now, upto
        self.report("embed", newly)

    def finish(self) -> None:
        self.emit(len(self.sources))
