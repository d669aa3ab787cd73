"""One search as a person asks it: from the settings to the hits, recorded in the analytics.

:func:`ask` opens the store, embeds the query when the mode needs it (on a search thread,
beside the rest of the search; a query asked again reuses its vector:
:func:`pipelines.embed.query_vector`), searches (:mod:`pipelines.search` holds every rule of
search) and records the search in the analytics ``searches`` table. ``inlet.search`` runs it in the
caller's process; the local worker runs it for the ``inlet`` command
(``flows.query_socket``), so a search is the same, and recorded once, either way.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import TYPE_CHECKING, Any

from pipelines import search as engine
from pipelines.store import Store

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from pipelines.config import Settings

DateLike = str | dt.date | dt.datetime


def ask(
    settings: Settings,
    query: str,
    *,
    mode: str = engine.DEFAULT_MODE,
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
) -> pl.DataFrame:
    """The hits of one search (``inlet.search`` documents the arguments and the columns), its
    row written to the analytics ``searches`` table by a background thread."""
    started = time.perf_counter()
    store = Store(settings)

    def vector_for(model: str) -> engine.QueryVector:
        """The query's vector under ``model`` (each collection is searched with its own)."""
        if not query.strip():
            return None
        from pipelines.embed import canonical_model, query_vector

        same = model == canonical_model(settings.embed_model)
        with_model = settings if same else settings.model_copy(update={"embed_model": model})

        def vector() -> np.ndarray:  # embedded on a search thread, beside the rest of the search
            return query_vector(with_model, query)

        return vector

    hits = engine.search_collections(
        store, query, vector_for, mode=mode, limit=limit, collection=collection, kind=kind, source_id=source,
        file=file, language=language, since=since, until=until, category=category, keyword=keyword,
    )  # fmt: skip
    latency_ms = (time.perf_counter() - started) * 1000
    filters = {"kind": kind, "source": source, "file": file, "since": since, "until": until,
               "language": language, "category": category, "keyword": keyword, "limit": limit}  # fmt: skip
    _record(settings, query, mode, collection, filters, hits.height, latency_ms)
    return hits


def _record(
    s: Settings,
    query: str,
    mode: str,
    collection: str | None,
    filters: dict[str, Any],
    results: int,
    ms: float,
) -> None:
    """One row in the analytics ``searches`` table, written by a background thread (the search
    does not wait for the file); a failure to record never fails a search."""
    from pipelines import analytics

    used = {k: v for k, v in filters.items() if v is not None}
    row = {
        "query": query, "mode": mode, "collection": collection, "results": results, "latency_ms": ms,
        "filters": json.dumps(used, default=str, sort_keys=True),
    }  # fmt: skip
    analytics.record_soon(s, "searches", [row])
