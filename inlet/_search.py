"""Searching the indexed chunks, completing queries, rebuilding the search indexes.

Every rule of search (the modes, which need the embedding model, how a hit is cited) lives in
:mod:`pipelines.search`; a search as a person asks it (open the store, embed the query, record
the search) is :func:`pipelines.searches.ask`, which the ``inlet`` command may have the local
worker run instead (``flows.query_socket``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any

import polars as pl

from inlet._settings import resolve
from pipelines import search as engine
from pipelines import searches
from pipelines.config import Settings
from pipelines.store import Store

log = logging.getLogger("inlet.search")

SEARCH_MODES: tuple[str, ...] = engine.MODES
"""The values of ``mode`` in :func:`search`: ``vector``, ``text``, ``hybrid``."""
DEFAULT_SEARCH_MODE: str = engine.DEFAULT_MODE
"""The ``mode`` of :func:`search` when none is given: ``hybrid``."""

DateLike = str | dt.date | dt.datetime


def search(
    query: str,
    *,
    mode: str = DEFAULT_SEARCH_MODE,
    collection: str | None = None,
    kind: str | list[str] | None = None,
    source: str | list[str] | None = None,
    file: str | list[str] | None = None,
    since: DateLike | None = None,
    until: DateLike | None = None,
    language: str | list[str] | None = None,
    category: str | None = None,
    keyword: str | None = None,
    limit: int = 10,
    settings: Settings | None = None,
    **overrides: Any,
) -> pl.DataFrame:
    """Search the indexed chunks; every hit carries its citation.

    Each collection is searched with the embedding model it was made with (see
    :func:`inlet.ingest`'s ``model``). When the collections searched were made with different
    models, each model ranks its own collections and the rankings are interleaved by rank (scores
    of two models are not on one scale; each hit keeps its own).

    Args:
        query: words or a question. In ``text`` and ``hybrid`` mode a part in double quotes is a
            phrase that must appear as written, and ``-word`` excludes a word; misspelt words
            are matched fuzzily.
        mode: ``hybrid`` (default: meaning and keywords fused by reciprocal rank; best on the
            SciFact benchmark), ``vector`` (meaning) or ``text`` (keywords).
        collection: only this collection (default: all collections).
        kind: only sources of these kinds (``inlet.records.KINDS``: ``pdf``, ``text``, ``html``, ...;
            a value or a list).
        source: only this source id (or list of ids).
        file: only this file name (or list of names), e.g. ``"report.pdf"``.
        since, until: only sources ingested in this range (both inclusive; dates or ISO
            strings; a date means the whole day, local time). The time is when the version of
            the source that is searched was ingested.
        language: only text in this language (code as extracted, e.g. ``en``): of a document,
            its language; of a recording, each stretch of speech has its own.
        category: only sources of this category (their collection's label; ignoring case).
        keyword: only sources with this keyword (ignoring case; whole words of a keyword
            phrase, as :func:`inlet.sources` filters).
        limit: how many hits.

    Returns:
        A polars DataFrame with columns ``chunk_id, source_id, file, kind, page_start,
        page_end, time_start, time_end, score, text, snippet, collection, citation, category,
        keywords``, best first (``category`` and ``keywords`` are those of the hit's source); the snippet marks the matching words with ``**``, and the citation reads
        ``file, p. 2``, ``file, pp. 2–3`` or ``file, 00:07.5–00:15.5`` (``h:mm:ss.s`` from
        an hour on). Each call is recorded in the analytics
        ``searches`` table (query, mode, filters, result count, latency) by a background
        thread, so the search does not wait for the file; a read of the analytics in this
        process, and its exit, write the pending rows first.

    Example:
        >>> inlet.search("ask not what your country can do for you")  # doctest: +SKIP
        >>> inlet.search('"quick brown fox" -lazy', mode="text", since="2024-05-01")  # doctest: +SKIP
    """
    return searches.ask(
        _settings(settings, overrides), query, mode=mode, collection=collection, kind=kind, source=source,
        file=file, since=since, until=until, language=language, category=category, keyword=keyword,
        limit=limit,
    )  # fmt: skip


_resolved: dict[Any, Settings] = {}


def _settings(settings: Settings | None, overrides: dict[str, Any]) -> Settings:
    """:func:`resolve`, remembered for the same ``INLET_*`` environment and overrides: building
    Settings from the environment takes milliseconds, a search should not pay them each time."""
    if settings is not None:
        return resolve(settings, overrides)
    try:
        key = (
            frozenset((k, v) for k, v in os.environ.items() if k.upper().startswith("INLET_")),
            os.environ.get("HOME"),
            frozenset(overrides.items()),
        )
        hash(key)
    except TypeError:  # an override that cannot be a key (a list): resolve it every time
        return resolve(settings, overrides)
    found = _resolved.get(key)
    if found is None:
        if len(_resolved) > 32:
            _resolved.clear()
        found = _resolved[key] = resolve(None, overrides)
    return found


def preload(mode: str = DEFAULT_SEARCH_MODE, *, settings: Settings | None = None, **overrides: Any) -> bool:
    """Load what searches in ``mode`` need (the embedding models for ``vector`` and ``hybrid``:
    the default one and those collections were made with) into this process, so the first search answers at once. True when a model is now held.

    Example:
        >>> inlet.preload()  # at the start of a notebook or an app  # doctest: +SKIP
        True
    """
    if not search_needs_embedder(mode):
        return False
    from pipelines.embed import canonical_model, load_query_encoder

    s = resolve(settings, overrides)
    load_query_encoder(s)
    for model in {m.model for m in Store(s).collection_models().values()} - {canonical_model(s.embed_model)}:
        load_query_encoder(s.model_copy(update={"embed_model": model}))  # a collection's own model
    return True


def search_needs_embedder(mode: str) -> bool:
    """True when :func:`search` in ``mode`` embeds the query, so the embedding model is loaded
    first: ``vector`` and ``hybrid``, not ``text``. A ``ValueError`` names the modes if ``mode``
    is none of them.

    Example:
        >>> [m for m in inlet.SEARCH_MODES if inlet.search_needs_embedder(m)]
        ['vector', 'hybrid']
    """
    return engine.needs_query_vector(mode)


def suggest(
    prefix: str,
    *,
    collection: str | None = None,
    limit: int = 8,
    settings: Settings | None = None,
    **overrides: Any,
) -> list[str]:
    """Completions for a partial query, for search-as-you-type.

    Titles of sources that start with ``prefix`` come first, then ``prefix`` with its last
    word completed by the most frequent indexed words that begin with it. The vocabulary is
    read once per version of the index (after that a call takes about a millisecond).

    Example:
        >>> inlet.suggest("ocean acid", collection="research")  # doctest: +SKIP
        ['Ocean acidification and coral reefs', 'ocean acidification', 'ocean acidic']
    """
    return engine.suggest(Store(resolve(settings, overrides)), prefix, collection=collection, limit=limit)


def reindex(
    collection: str | None = None, *, settings: Settings | None = None, **overrides: Any
) -> engine.RefreshReport:
    """Rebuild the search indexes from scratch: both full-text indexes (stemmed with positions,
    and unstemmed for typos), the bitmap indexes of the filters (collection, kind, language)
    and, once the table holds ``ann_min_rows`` chunks, the ANN vector index. Searches keep
    answering while it runs.

    The indexes span every collection (one chunks table per vector length: collections made
    with a model of another dimension have their own), so ``collection`` only checks that the
    collection exists; all are reindexed.

    Returns:
        ``{"rows", "rebuilt": [index names], "filters": [filter index names], "ann": bool,
        "seconds"}``.

    Example:
        >>> inlet.reindex()  # doctest: +SKIP
        {'rows': 12031, 'rebuilt': ['text_idx', 'text_plain_idx'], 'filters': ['collection_idx', 'kind_idx', 'language_idx'], 'ann': False, 'seconds': 2.1}
    """
    store = Store(resolve(settings, overrides))
    if collection is not None and store.count_chunks(collection) == 0:
        raise ValueError(f"no collection named {collection!r} has any chunk; nothing to reindex")
    return engine.refresh(store, rebuild=True)
