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
from pipelines.config import Settings, get_settings
from pipelines.store import Store

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
def _embedder(_s: Settings, key: tuple[str, ...]) -> Any:
    from pipelines.embed import load_embedder

    return load_embedder(_s)


def embedder(s: Settings) -> Any:
    """The query embedder for these settings, loaded once per dashboard process."""
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
def _sources(_s: Settings, key: str) -> pl.DataFrame:
    return Store(_s).source_rows()


def sources(s: Settings) -> pl.DataFrame:
    """The ingested sources (``Store.source_rows()``), at most ``STATS_TTL_S`` seconds old."""
    return _sources(s, settings_key(s))


@st.cache_data(ttl=STATS_TTL_S, show_spinner=False)
def _errors(_s: Settings, key: str) -> pl.DataFrame:
    return inlet.errors(settings=_s)


def errors(s: Settings) -> pl.DataFrame:
    """``inlet.errors()``, newest first, at most ``STATS_TTL_S`` seconds old."""
    return _errors(s, settings_key(s))


@st.cache_data(ttl=SEARCH_TTL_S, show_spinner=False, max_entries=256)
def _search(_s: Settings, key: str, query: str, mode: str, collection: str | None,
            kind: str | None, limit: int) -> pl.DataFrame:  # fmt: skip
    return inlet.search(query, collection=collection, kind=kind, mode=mode, limit=limit, settings=_s)


def search(s: Settings, query: str, *, mode: str, collection: str | None, kind: str | None,
           limit: int) -> pl.DataFrame:  # fmt: skip
    """``inlet.search(...)``; the same search within ``SEARCH_TTL_S`` seconds is not rerun."""
    if mode in ("vector", "hybrid"):
        embedder(s)  # warm the model under its own spinner the first time
    return _search(s, settings_key(s), query, mode, collection, kind, limit)
