"""Submitting work: ``ingest`` and the job summary it returns.

Work goes through ``flows`` (the ingest flow); this module only turns arguments into a call.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from inlet._settings import resolve
from pipelines.config import Settings


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
    s = resolve(settings, overrides)
    from flows.ingest import ingest_flow  # imports Prefect: only when work is submitted

    return JobSummary(
        ingest_flow(resolved, collection=collection or s.collection, settings=s, priority=priority)
    )
