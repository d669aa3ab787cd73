"""Reports over the analytics store and the index: jobs, errors, statistics, export."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import polars as pl

from inlet._library import collection_models, collection_totals, collections
from inlet._library import sources as library_sources
from inlet._settings import resolve
from pipelines import analytics
from pipelines.breaker import states as breaker_states
from pipelines.config import Settings
from pipelines.errors import ALL_CLASSES, InletError
from pipelines.moments import Moment
from pipelines.moments import since as since_moment
from pipelines.store import Store

Since = Moment | None
"""A moment (see :mod:`pipelines.moments`): a datetime, a timedelta back from now, ``"24h"``,
``"7d"``, ``"30m"``, or an ISO date; without a time zone, local time."""


def jobs(
    *,
    status: str | list[str] | None = None,
    collection: str | None = None,
    job_id: str | None = None,
    limit: int = 100,
    settings: Settings | None = None,
    **overrides: Any,
) -> pl.DataFrame:
    """Jobs, newest first: ``job_id, status, priority, collection, progress, eta_s,
    submitted_at, started_at, finished_at, sources, failed, flow_run_id``, retries, stuck,
    requeues (times its worker put it back on its queue because it was stuck), workers (the
    names of the workers that processed its files).
    ``job_id`` gives that one job's row (none when it is unknown).

    >>> inlet.jobs(status="running")  # doctest: +SKIP
    >>> inlet.jobs(job_id="3f2a9c0d1e2b").row(0, named=True)["progress"]  # doctest: +SKIP
    """
    s = resolve(settings, overrides)
    return analytics.jobs(s, status=status, collection=collection, job_id=job_id, limit=limit)


def job_sources(job_id: str, *, settings: Settings | None = None, **overrides: Any) -> pl.DataFrame:
    """The files of one job: ``file, kind, stage, status, progress``, retries, seconds, the
    latest error's ``error_class, error_message, error_hint``, and the ``worker`` that processed it.

    >>> inlet.job_sources(inlet.jobs()["job_id"][0])  # doctest: +SKIP
    """
    s = resolve(settings, overrides)
    return analytics.job_sources(s, job_id)


def errors(
    job_id: str | None = None,
    *,
    collection: str | None = None,
    error_class: str | None = None,
    since: Since = None,
    limit: int = 1000,
    settings: Settings | None = None,
    **overrides: Any,
) -> pl.DataFrame:
    """Recorded failures, newest first: ``class, message, hint, retryable, file, stage,
    job_id, at`` (plus ``path``, ``source_id``, ``kind``, ``attempt``, ``detail``, ``traceback``).

    >>> inlet.errors(since="24h", error_class="damaged_pdf")  # doctest: +SKIP
    """
    s = resolve(settings, overrides)
    frame = analytics.errors(
        s,
        job_id=job_id,
        collection=collection,
        error_class=error_class,
        since=since_moment(since),
        limit=limit,
    )
    first = ["class", "message", "hint", "retryable", "file", "stage", "job_id", "at"]
    return frame.select(first + [c for c in frame.columns if c not in first])


_LOWER_CASE_NAMES = ("pypdf",)
"""Names that start a class's meaning and keep their lower case."""


def error_classes() -> list[dict[str, Any]]:
    """Every class of error inlet reports, in the order of its taxonomy: ``class`` (the code
    found in ``inlet.errors()`` and job summaries), ``name``, ``group`` (``input``,
    ``resource``, ``model``, ``storage``, or ``None``), ``message`` (what it means),
    ``hint`` (what to do) and ``retryable`` (whether inlet retries it by itself).

    >>> [c["class"] for c in inlet.error_classes()][:3]
    ['not_found', 'unsafe_name', 'unsupported_format']
    """
    rows = []
    for cls in ALL_CLASSES:
        bases = [b for b in cls.__mro__[1:] if issubclass(b, InletError) and b is not InletError]
        group = next((b.code for b in bases if b.abstract), None)
        doc = " ".join((cls.__doc__ or "").split()).replace("``", "`")
        meaning = re.sub(r"^Raised (when|for) ", "", doc)
        if not meaning.startswith(_LOWER_CASE_NAMES):
            meaning = meaning[:1].upper() + meaning[1:]
        rows.append({
            "class": cls.code, "name": cls.__name__, "group": group, "message": meaning,
            "hint": cls.hint, "retryable": cls.retryable,
        })  # fmt: skip
    return rows


class Stats(dict):
    """``inlet.stats()``: store totals and analytics figures; a dict, shown as tables in a notebook.

    Keys: ``sources``, ``chunks`` (in the store), ``collections`` (per collection: ``sources``,
    ``chunks`` and ``model``, the embedding model it was made with), ``sources_by_kind``, ``jobs``,
    ``errors``, ``home``, and the frames of :func:`pipelines.analytics.statistics`: ``by_kind``,
    ``by_collection``, ``stages``, ``queue``, ``errors_by_class``, ``searches``; dicts
    ``retries`` and ``health``; ``breakers``: the state of each dependency's circuit breaker
    (:func:`pipelines.breaker.states`).
    """

    def to_json(self) -> dict[str, Any]:
        """Plain data (frames as lists of rows), as ``inlet stats --json`` prints it."""
        return _plain(dict(self))

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>{self['sources']}</b> sources, <b>{self['chunks']}</b> chunks, "
            f"<b>{self['jobs']}</b> jobs, <b>{self['errors']}</b> errors "
            f"<small>({html.escape(str(self['home']))})</small></p>"
        )
        parts = [head]
        collections = self.get("collections") or {}
        if collections:
            cells = "".join(
                f"<tr><th>{html.escape(name)}</th><td>{c['sources']}</td><td>{c['chunks']}</td>"
                f"<td>{html.escape(str(c.get('model') or ''))}</td></tr>"
                for name, c in collections.items()
            )
            parts.append(
                "<h4>collections</h4><table><tr><th>collection</th><th>sources</th><th>chunks</th>"
                f"<th>embedding model</th></tr>{cells}</table>"
            )
        for key in ("by_kind", "by_collection", "stages", "queue", "errors_by_class", "searches"):
            frame = self.get(key)
            if isinstance(frame, pl.DataFrame) and frame.height:
                parts.append(f"<h4>{key.replace('_', ' ')}</h4>{frame._repr_html_()}")
        rows = "".join(
            f"<tr><th>{html.escape(b['dependency'])}</th><td>{html.escape(b['state'])}</td>"
            f"<td>{b['failures']}</td><td>{html.escape(b['error_class'] or '')}</td></tr>"
            for b in self.get("breakers", [])
        )
        parts.append(f"<h4>breakers</h4><table>{rows}</table>")
        for key in ("retries", "health"):
            values = {k: v for k, v in self.get(key, {}).items() if not isinstance(v, pl.DataFrame)}
            cells = "".join(f"<tr><th>{k}</th><td>{html.escape(str(v))}</td></tr>" for k, v in values.items())
            parts.append(f"<h4>{key}</h4><table>{cells}</table>")
        return "".join(parts)


def _plain(value: Any) -> Any:
    if isinstance(value, pl.DataFrame):
        return value.to_dicts()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def stats(
    *,
    since: Since = None,
    collection: str | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> Stats:
    """Totals in the store and every analytics figure (see :class:`Stats`).

    >>> inlet.stats()["stages"]  # doctest: +SKIP
    """
    s = resolve(settings, overrides)
    store = Store(s)
    sources = library_sources(settings=s)
    per_collection = {
        r["collection"]: {"sources": r["sources"], "chunks": r["chunks"], "model": r["model"]}
        for r in collection_totals(sources, collection_models(s) if sources.height else {}).iter_rows(
            named=True
        )
    }
    counts = analytics.query(
        s, "SELECT (SELECT count(*) FROM job_state) AS jobs, (SELECT count(*) FROM errors) AS errors"
    ).row(0, named=True)
    by_kind = (
        {r["kind"]: r["len"] for r in sources.group_by("kind").len().iter_rows(named=True)}
        if sources.height else {}
    )  # fmt: skip
    return Stats(
        sources=sources.height,
        chunks=store.count_chunks(),
        collections=per_collection,
        sources_by_kind=by_kind,
        jobs=counts["jobs"],
        errors=counts["errors"],
        home=str(s.home),
        breakers=breaker_states(s),
        **analytics.statistics(s, since=since_moment(since), collection=collection),
    )


EXPORTS = ("jobs", "errors", "collections", "sources")


def collection_summary(*, settings: Settings | None = None, **overrides: Any) -> pl.DataFrame:
    """Per collection: ``sources, pages, audio_minutes, chunks, errors, jobs``.

    >>> inlet._reports.collection_summary()  # doctest: +SKIP
    """
    s = resolve(settings, overrides)
    stored = collections(settings=s).select(
        "collection",
        "sources",
        "pages",
        (pl.col("duration_s").fill_null(0.0) / 60).round(2).alias("audio_minutes"),
        "chunks",
    )
    logged = analytics.query(
        s,
        """SELECT collection, (SELECT count(*) FROM errors e WHERE e.collection = j.collection) AS errors,
                  count(*) AS jobs
           FROM job_state j WHERE collection IS NOT NULL GROUP BY collection
           UNION ALL
           SELECT collection, count(*), 0 FROM errors
           WHERE collection IS NOT NULL AND collection NOT IN (SELECT collection FROM job_state
                                                                WHERE collection IS NOT NULL)
           GROUP BY collection""",
    )
    frame = stored.join(logged, on="collection", how="full", coalesce=True)
    return frame.with_columns(
        pl.col("sources", "pages", "chunks", "errors", "jobs").fill_null(0),
        pl.col("audio_minutes").fill_null(0.0),
    ).sort("collection")


def export(
    folder: str | Path,
    *,
    format: str = "parquet",  # noqa: A002 - the word users know
    tables: tuple[str, ...] | list[str] = EXPORTS,
    since: Since = None,
    collection: str | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> dict[str, Path]:
    """Write ``jobs``, ``errors``, ``collections`` (the collection summary) and ``sources``
    (every source with its keywords, summary and category) to ``folder`` as ``parquet``,
    ``csv`` or ``markdown``; returns the file written per table. In CSV and Markdown a source's
    keywords are joined with ``; `` and its summary is its sentences, each followed by its
    citation in brackets; Parquet keeps them as lists.

    >>> inlet.export("reports", format="markdown")  # doctest: +SKIP
    {'jobs': PosixPath('reports/jobs.md'), 'errors': ..., 'collections': ...}
    """
    unknown = set(tables) - set(EXPORTS)
    if unknown:
        raise ValueError(f"cannot export {sorted(unknown)}; choose from {', '.join(EXPORTS)}")
    if format not in analytics.FORMATS:
        raise ValueError(f"unknown export format {format!r}; use one of {', '.join(analytics.FORMATS)}")
    s = resolve(settings, overrides)
    start = since_moment(since)
    frames: dict[str, pl.DataFrame] = {}
    if "jobs" in tables:
        frame = analytics.jobs(s, collection=collection, limit=1_000_000)
        frames["jobs"] = frame if start is None else frame.filter(pl.col("submitted_at") >= start)
    if "errors" in tables:
        frames["errors"] = errors(collection=collection, since=start, limit=1_000_000, settings=s)
    if "collections" in tables:
        summary = collection_summary(settings=s)
        frames["collections"] = (
            summary if collection is None else summary.filter(pl.col("collection") == collection)
        )
    if "sources" in tables:
        frames["sources"] = _exported_sources(collection, s, flat=format != "parquet")
    out = Path(folder).expanduser()
    return {name: analytics.export_frame(frame, out / name, format) for name, frame in frames.items()}


def _exported_sources(collection: str | None, settings: Settings, *, flat: bool) -> pl.DataFrame:
    """The library with its analysis; ``flat`` turns the list columns into text (CSV has no lists)."""
    from inlet._library import sources

    frame = sources(collection, settings=settings)
    if not flat:
        return frame
    return frame.with_columns(
        pl.col("keywords").list.join("; "),
        pl.col("summary")
        .map_elements(
            lambda sentences: " ".join(f"{s['text']} [{s['citation']}]" for s in sentences),
            return_dtype=pl.Utf8,
        )
        .alias("summary"),
    )
