"""What is in the store: one source's extracted text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from inlet._settings import resolve
from pipelines import cache
from pipelines.config import Settings
from pipelines.sources import hash_file
from pipelines.store import Store


def show(source: str, *, settings: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    """What was extracted from one source: its text by page, or its transcript by second.

    Args:
        source: a path, a file name, or a source id (or its first characters).

    Returns:
        ``{"source_id", "file", "kind", "language", "pages" | "duration_s", "segments"}``.

    Raises:
        LookupError: when no ingested source matches.
    """
    s = resolve(settings, overrides)
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
