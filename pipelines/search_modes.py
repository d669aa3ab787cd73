"""The search modes and which of them embed the query: part of :mod:`pipelines.search`, kept in
a module of their own that imports nothing, so the ``inlet`` command builds its options (and
answers ``--help``) without loading the search engine, its frames and its store.
"""

from __future__ import annotations

MODES = ("vector", "text", "hybrid")
DEFAULT_MODE = "hybrid"  # wins on SciFact over vector and keyword alone (bench/search_eval.py)
QUERY_VECTOR_MODES = frozenset({"vector", "hybrid"})
"""The modes that compare meanings, so the query is embedded first."""


def needs_query_vector(mode: str) -> bool:
    """True when a search in ``mode`` compares meanings, so the query must be embedded first
    (the embedding model loaded): ``vector`` and ``hybrid``, not ``text``.

    >>> [m for m in MODES if needs_query_vector(m)]
    ['vector', 'hybrid']
    """
    check_mode(mode)
    return mode in QUERY_VECTOR_MODES


def check_mode(mode: str) -> None:
    """Raise ``ValueError`` unless ``mode`` is one of :data:`MODES`."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
