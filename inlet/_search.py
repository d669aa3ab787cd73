"""Searching the indexed chunks."""

from __future__ import annotations

from typing import Any

import polars as pl

from inlet._settings import resolve
from pipelines.config import Settings
from pipelines.store import Store


def search(
    query: str,
    *,
    collection: str | None = None,
    kind: str | None = None,
    source: str | None = None,
    mode: str = "vector",
    limit: int = 10,
    settings: Settings | None = None,
    **overrides: Any,
) -> pl.DataFrame:
    """Search the indexed chunks; every hit carries its citation.

    Args:
        query: words or a question; in ``text`` mode a query in double quotes is a phrase.
        collection: only this collection (default: all collections).
        kind: only ``pdf``, ``text``, ``audio`` or ``video`` sources.
        source: only this source id.
        mode: ``vector`` (meaning), ``text`` (keywords) or ``hybrid`` (both, fused by rank).
        limit: how many hits.

    Returns:
        A polars DataFrame with columns ``chunk_id, source_id, file, kind, page_start,
        page_end, time_start, time_end, score, text, snippet, collection``, best first; the
        snippet marks the query's words with ``**``.

    Example:
        >>> inlet.search("ask not what your country can do for you")  # doctest: +SKIP
    """
    from pipelines.embed import load_embedder

    s = resolve(settings, overrides)
    store = Store(s)
    vector = load_embedder(s).encode_query(query) if mode in ("vector", "hybrid") else None
    return store.search(
        query, vector, mode=mode, limit=limit, collection=collection, kind=kind, source_id=source
    )
