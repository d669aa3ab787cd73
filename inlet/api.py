"""The notebook and CLI surface: plain functions that return plain data or polars frames.

Work is submitted through ``flows`` (the ingest flow); reads go straight to ``pipelines``.
This module holds no logic of its own beyond turning arguments into calls.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from pipelines import analytics, cache
from pipelines.config import Settings, get_settings
from pipelines.sources import hash_file
from pipelines.store import Store

__all__ = ["JobSummary", "errors", "ingest", "search", "show", "stats"]


class JobSummary(dict):
    """The result of an ingest job: a dict (``job_id``, ``status``, ``chunks_written``,
    ``sources``) that also shows as a table in a notebook."""

    @property
    def ok(self) -> bool:
        """True when every source was ingested or unchanged."""
        return self["status"] == "completed"

    def to_polars(self) -> pl.DataFrame:
        """One row per source: path, kind, status, chunks and the error class if any."""
        rows = [
            {
                "file": s["file"], "kind": s["kind"], "status": s["status"], "chunks": s["chunks"],
                "error": (s["error"] or {}).get("class"), "hint": (s["error"] or {}).get("hint"),
                "path": s["path"], "source_id": s["source_id"],
            }
            for s in self["sources"]
        ]  # fmt: skip
        schema = {
            "file": pl.Utf8,
            "kind": pl.Utf8,
            "status": pl.Utf8,
            "chunks": pl.Int64,
            "error": pl.Utf8,
            "hint": pl.Utf8,
            "path": pl.Utf8,
            "source_id": pl.Utf8,
        }
        return pl.DataFrame(rows, schema=schema)

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>job {html.escape(self['job_id'])}</b>: {html.escape(self['status'])}, "
            f"{self['chunks_written']} chunks written, {len(self['sources'])} sources</p>"
        )
        return head + self.to_polars()._repr_html_()


def _settings(settings: Settings | None, overrides: dict[str, Any]) -> Settings:
    if settings is not None:
        return settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    return get_settings(**overrides)


def ingest(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    collection: str | None = None,
    *,
    priority: str = "normal",
    settings: Settings | None = None,
    **overrides: Any,
) -> JobSummary:
    """Ingest files and folders: extract or transcribe, chunk, embed and index them.

    Args:
        paths: files and/or folders (``~`` is expanded); folders are walked.
        collection: the collection to add to (default: the ``collection`` setting).
        priority: ``high``, ``normal`` or ``low``.
        settings: a :class:`pipelines.config.Settings`; ``overrides`` (any setting by name,
            e.g. ``home=...``, ``chunk_tokens=128``) are applied on top.

    Returns:
        A :class:`JobSummary`; ``summary["sources"]`` says per file whether it was ingested,
        unchanged or failed (with the error's class, message and hint).

    Example:
        >>> inlet.ingest(["~/papers"], collection="research")  # doctest: +SKIP
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    resolved = [str(Path(p).expanduser()) for p in paths]
    s = _settings(settings, overrides)
    from flows.ingest import ingest_flow  # imports Prefect: only when work is submitted

    return JobSummary(
        ingest_flow(resolved, collection=collection or s.collection, settings=s, priority=priority)
    )


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

    s = _settings(settings, overrides)
    store = Store(s)
    vector = load_embedder(s).encode_query(query) if mode in ("vector", "hybrid") else None
    return store.search(
        query, vector, mode=mode, limit=limit, collection=collection, kind=kind, source_id=source
    )


def show(source: str, *, settings: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    """What was extracted from one source: its text by page, or its transcript by second.

    Args:
        source: a path, a file name, or a source id (or its first characters).

    Returns:
        ``{"source_id", "file", "kind", "language", "pages" | "duration_s", "segments"}``.

    Raises:
        LookupError: when no ingested source matches.
    """
    s = _settings(settings, overrides)
    source_id = _resolve_source(source, s)
    extraction = cache.find(source_id, s)
    if extraction is None:
        raise LookupError(f"No extracted text is kept for source {source_id}; ingest it again.")
    src = extraction.source
    shown: dict[str, Any] = {
        "source_id": src.source_id, "file": src.file, "path": src.path, "kind": src.kind,
        "language": extraction.language,
    }  # fmt: skip
    if src.kind in ("audio", "video"):
        shown["duration_s"] = src.duration_s
        shown["segments"] = [{"text": g.text, "start": g.start, "end": g.end} for g in extraction.segments]
    else:
        shown["pages"] = src.pages
        shown["segments"] = [{"text": g.text, "page": g.page} for g in extraction.segments]
    return shown


def _resolve_source(source: str, settings: Settings) -> str:
    path = Path(source).expanduser()
    if path.is_file():
        return hash_file(path)
    rows = Store(settings).source_rows()
    if rows.height:
        for column in ("source_id", "file", "path"):
            match = rows.filter(pl.col(column) == source)
            if match.height:
                return str(match["source_id"][0])
        prefix = rows.filter(pl.col("source_id").str.starts_with(source.lower()))
        if len(source) >= 6 and prefix["source_id"].n_unique() == 1:
            return str(prefix["source_id"][0])
    raise LookupError(f"No ingested source matches {source!r} (give a path, file name or source id).")


def errors(job_id: str | None = None, *, settings: Settings | None = None, **overrides: Any) -> pl.DataFrame:
    """Recorded failures, newest first: ``class, message, hint, retryable, file, stage,
    job_id, at`` (plus ``path``, ``source_id``, ``attempt``, ``detail``)."""
    s = _settings(settings, overrides)
    frame = analytics.errors(s, job_id=job_id)
    first = ["class", "message", "hint", "retryable", "file", "stage", "job_id", "at"]
    return frame.select(first + [c for c in frame.columns if c not in first])


def stats(*, settings: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    """Totals: ``sources`` and ``chunks`` in the store, per collection, jobs and errors."""
    s = _settings(settings, overrides)
    store = Store(s)
    sources = store.source_rows()
    per_collection: dict[str, dict[str, int]] = {}
    if sources.height:
        grouped = sources.group_by("collection").agg(
            pl.len().alias("sources"), pl.col("n_chunks").sum().alias("chunks")
        )
        per_collection = {
            r["collection"]: {"sources": r["sources"], "chunks": int(r["chunks"])}
            for r in grouped.iter_rows(named=True)
        }
    counts = analytics.query(
        s, "SELECT (SELECT count(*) FROM job_state) AS jobs, (SELECT count(*) FROM errors) AS errors"
    ).row(0, named=True)
    by_kind = (
        {r["kind"]: r["len"] for r in sources.group_by("kind").len().iter_rows(named=True)}
        if sources.height else {}
    )  # fmt: skip
    return {
        "sources": sources.height,
        "chunks": store.count_chunks(),
        "collections": per_collection,
        "sources_by_kind": by_kind,
        "jobs": counts["jobs"],
        "errors": counts["errors"],
        "home": str(s.home),
    }
