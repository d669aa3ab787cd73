"""Cached reads and warm models for the pages (STYLE habit 16).

- ``st.cache_resource``: the embedding model, shared by every session of this process.
- ``st.cache_data`` with a short ``ttl``: stats, source rows, errors and search hits, so that
  reruns and several open tabs cost one store read per few seconds. Each cached read is keyed on
  the settings (as JSON), so a different ``INLET_HOME`` never sees another store's answers.
- No DuckDB connection is ever cached: ``inlet.stats`` and ``inlet.errors`` open a fresh
  in-memory one per read (DESIGN decision 6).
"""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

import inlet
from dashboard import strings
from inlet.config import Settings, get_settings

STATS_TTL_S = 5
SEARCH_TTL_S = 30


def settings() -> Settings:
    """Settings from the ``INLET_*`` environment, read on every run (cheap)."""
    return get_settings()


def settings_key(s: Settings) -> str:
    """What identifies a store and its models in the caches below."""
    return s.model_dump_json()


# --- resources -------------------------------------------------------------------------------


@st.cache_resource(show_spinner=strings.LOADING_MODEL)
def _embedder(_s: Settings, key: tuple[str, ...]) -> bool:
    held = inlet.preload(settings=_s)
    _loaded[_s.embed_model] = held
    return held


def embedder(s: Settings) -> bool:
    """Load the query embedder for these settings once per dashboard process (``inlet.preload``
    keeps it for every later search)."""
    key = (s.embed_model, s.embed_backend, s.embed_device, str(s.embed_batch_size), str(s.models_dir))
    return _embedder(s, key)


# --- reads -------------------------------------------------------------------------------------


@st.cache_data(ttl=STATS_TTL_S, show_spinner=False)
def _stats(_s: Settings, key: str) -> dict[str, Any]:
    return inlet.stats(settings=_s)


def stats(s: Settings) -> dict[str, Any]:
    """``inlet.stats()`` for these settings, at most ``STATS_TTL_S`` seconds old."""
    return _stats(s, settings_key(s))


@st.cache_data(ttl=STATS_TTL_S, show_spinner=False)
def _sources(_s: Settings, key: str, category: str | None = None, keyword: str | None = None) -> pl.DataFrame:
    return inlet.sources(settings=_s, category=category, keyword=keyword)


def sources(s: Settings, *, category: str | None = None, keyword: str | None = None) -> pl.DataFrame:
    """The ingested sources (``inlet.sources()``, of ``category`` and with ``keyword`` when
    given), at most ``STATS_TTL_S`` seconds old."""
    return _sources(s, settings_key(s), category, keyword)


@st.cache_data(ttl=STATS_TTL_S, show_spinner=False)
def _collection_models(_s: Settings, key: str) -> dict[str, str]:
    frame = inlet.collections(settings=_s)
    return {r["collection"]: r["model"] for r in frame.select("collection", "model").iter_rows(named=True)}


def collection_models(s: Settings) -> dict[str, str]:
    """The embedding model of each collection (``inlet.collections()``), at most ``STATS_TTL_S``
    seconds old."""
    return _collection_models(s, settings_key(s))


@st.cache_data(ttl=STATS_TTL_S, show_spinner=False)
def _labels(_s: Settings, key: str, collection: str) -> list[dict[str, str]]:
    return inlet.labels(collection, settings=_s)


def labels(s: Settings, collection: str) -> list[dict[str, str]]:
    """``inlet.labels(collection)``, at most ``STATS_TTL_S`` seconds old."""
    return _labels(s, settings_key(s), collection)


@st.cache_data(ttl=STATS_TTL_S, show_spinner=False)
def _errors(_s: Settings, key: str) -> pl.DataFrame:
    return inlet.errors(settings=_s)


def errors(s: Settings) -> pl.DataFrame:
    """``inlet.errors()``, newest first, at most ``STATS_TTL_S`` seconds old."""
    return _errors(s, settings_key(s))


@st.cache_data(ttl=SEARCH_TTL_S, show_spinner=False, max_entries=256)
def _search(
    _s: Settings, key: str, query: str, mode: str, filters: tuple[tuple[str, Any], ...]
) -> pl.DataFrame:
    return inlet.search(query, mode=mode, settings=_s, **dict(filters))


def search(s: Settings, query: str, *, mode: str, **filters: Any) -> pl.DataFrame:
    """``inlet.search(query, mode=..., **filters)`` (collection, kind, file, since, until,
    language, category, keyword, limit); the same search within ``SEARCH_TTL_S`` seconds is not rerun."""
    if inlet.search_needs_embedder(mode):
        embedder(s)  # warm the model under its own spinner the first time
    return _search(s, settings_key(s), query, mode, tuple(sorted(filters.items())))


def thumbnail(s: Settings, source_id: str, second: float | None) -> str | None:
    """The path of a video's still at ``second`` (``None``: its poster; ``inlet.thumbnail``, kept
    on disk by inlet), or ``None`` when it cannot be made (the hit still shows, with its player)."""
    try:
        return str(inlet.thumbnail(source_id, second, settings=s))
    except (inlet.InletError, LookupError, OSError):
        return None


@st.cache_data(ttl=SEARCH_TTL_S, show_spinner=False, max_entries=512)
def _video(_s: Settings, key: str, source_id: str) -> dict[str, Any] | None:
    try:
        video: dict[str, Any] | None = inlet.show(source_id, settings=_s).get("video")
    except (inlet.InletError, LookupError, OSError):
        return None
    return video


def video(s: Settings, source_id: str) -> dict[str, Any] | None:
    """A video source's facts (``inlet.show(...)["video"]``: length, picture size, codecs, frame
    rate, container), or ``None`` when they are not kept."""
    return _video(s, settings_key(s), source_id)


@st.cache_data(ttl=SEARCH_TTL_S, show_spinner=False, max_entries=512)
def _suggest(_s: Settings, key: str, prefix: str, collection: str | None) -> list[str]:
    return inlet.suggest(prefix, collection=collection, settings=_s)


def suggest(s: Settings, prefix: str, collection: str | None) -> list[str]:
    """``inlet.suggest(prefix)``: titles and frequent words that complete the query."""
    return _suggest(s, settings_key(s), prefix, collection)


def embedder_loaded(s: Settings) -> bool:
    """True once this dashboard process loaded the query embedder for these settings."""
    return _loaded.get(s.embed_model, False)


_loaded: dict[str, bool] = {}


def clear_reads() -> None:
    """Forget every cached read (after this session submitted or cancelled something)."""
    for cached in (_stats, _sources, _labels, _errors, _jobs, _job_sources, _statistics, _search, _video):
        cached.clear()


@st.cache_data(ttl=STATS_TTL_S, show_spinner=False)
def _health(_s: Settings, key: str) -> dict[str, Any]:
    return inlet.health(settings=_s)


def health(s: Settings) -> dict[str, Any]:
    """``inlet.health()`` (models, stores, mode and server, versions), a few seconds old."""
    return _health(s, settings_key(s))


def status(s: Settings) -> dict[str, Any]:
    """``inlet.status()``: where jobs run now, the local Prefect UI's address (not cached: the
    worker comes and goes)."""
    return inlet.status(settings=s)


# --- jobs and statistics (analytics reads; a fresh in-memory DuckDB per read) ------------------

JOBS_TTL_S = 1.5
REFRESH_S = 2


@st.cache_data(ttl=JOBS_TTL_S, show_spinner=False)
def _jobs(_s: Settings, key: str, limit: int) -> pl.DataFrame:
    return inlet.jobs(limit=limit, settings=_s)


def jobs(s: Settings, limit: int = 50) -> pl.DataFrame:
    """The newest jobs with progress and ETA; every open tab shares one read per ``JOBS_TTL_S``."""
    return _jobs(s, settings_key(s), limit)


@st.cache_data(ttl=JOBS_TTL_S, show_spinner=False, max_entries=64)
def _job_sources(_s: Settings, key: str, job_id: str) -> pl.DataFrame:
    return inlet.job_sources(job_id, settings=_s)


def job_sources(s: Settings, job_id: str) -> pl.DataFrame:
    """Per file of a job: stage, status, progress, error; shared like :func:`jobs`."""
    return _job_sources(s, settings_key(s), job_id)


@st.cache_data(ttl=STATS_TTL_S, show_spinner=False)
def _statistics(_s: Settings, key: str) -> dict[str, Any]:
    return dict(inlet.stats(settings=_s))


def statistics(s: Settings) -> dict[str, Any]:
    """``inlet.stats()``, a few seconds old."""
    return _statistics(s, settings_key(s))
