"""Inputs every worker can read: local files sent to the object store before a job is queued.

With a store (``INLET_STORE``) and a Prefect server whose workers may run on other machines,
:func:`stage` copies each local file of a job to ``<store>/inputs/<source_id>``, keyed by the
hash of its bytes, so a file already there (sent by anyone, under any name) is not sent again.
The job then names ``<store>/inputs/<source_id>#<file name>`` instead of the local path; a
worker's :func:`pipelines.sources.discover` fetches it (:func:`pipelines.objstore.fetch_input`)
into its own cache (``<home>/cache/inputs/<source_id>/<file name>``, checked against the hash)
and ingests that copy. Paths under ``shared_roots`` (a mount every worker sees) and references already staged
are passed on as they are; without a store, or in embedded mode (the worker is on this
machine), nothing is staged.

Staged inputs do not stay forever: :func:`expire` (run by the maintenance flow) deletes those
that no job has named for ``inputs_retention_days`` and that no waiting or running job names.
A job that names one afterwards (a retry) fails it as ``not_found``, with a hint to submit the
file again.

    >>> staged = stage(["~/talks"], settings)  # doctest: +SKIP
    >>> staged.sent, staged.bytes_sent, round(staged.seconds, 1)  # doctest: +SKIP
    (3, 48213340, 1.9)
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pipelines import objstore
from pipelines.config import Settings
from pipelines.errors import StoreUnavailable
from pipelines.records import FINISHED_STATUSES

log = logging.getLogger("inlet.staging")

INPUTS = objstore.INPUTS
BLOCK = objstore.BLOCK


@dataclass
class Staged:
    """What :func:`stage` did: the paths the job gets, and what it cost."""

    paths: list[str]
    files: int = 0
    """Local files the job names (each now in the store)."""
    sent: int = 0
    """Files sent: those the store did not have yet."""
    bytes_sent: int = 0
    seconds: float = 0.0
    passed: list[str] = field(default_factory=list)
    """Paths given on as they are: staged already, under ``shared_roots``, or refused here
    (missing, special files): the worker reports those with their error class."""


def needed(settings: Settings) -> bool:
    """Whether local files must be staged: a store is set and jobs run on a Prefect server
    (their workers may be on other machines)."""
    return bool(settings.store) and settings.active_mode == "server"


def is_reference(path: str | os.PathLike[str]) -> bool:
    """True for a staged input (``s3://…/inputs/<source_id>#<name>``)."""
    return objstore.INPUT_REFERENCE.match(str(path)) is not None


def stage(paths: Iterable[str | os.PathLike[str]], settings: Settings, *, force: bool = False) -> Staged:
    """Send the local files under ``paths`` to ``<store>/inputs`` (those not there yet) and
    return the paths a worker on any machine can read. Without :func:`needed` (or ``force``
    with a store), the paths come back unchanged."""
    listed = [str(p) for p in paths]
    remote = objstore.remote(settings)
    if remote is None or not (force or needed(settings)):
        return Staged(paths=listed, passed=listed)
    from pipelines.sources import discover

    started = time.perf_counter()
    result = Staged(paths=[])
    shared = [Path(os.path.realpath(Path(r).expanduser())) for r in settings.shared_roots]
    for raw in listed:
        if is_reference(raw) or _under(raw, shared):
            result.paths.append(raw)
            result.passed.append(raw)
            continue
        files, refused = discover([raw])
        for error in refused:
            result.paths.append(error.path or raw)
            result.passed.append(error.path or raw)
        for path in files:
            result.paths.append(_send(remote, path, result))
            result.files += 1
    result.seconds = time.perf_counter() - started
    if result.files:
        log.info(
            "staged %d files (%d sent, %d bytes) to %s in %.2f s",
            result.files, result.sent, result.bytes_sent, remote.url(INPUTS), result.seconds,
        )  # fmt: skip
    return result


def _under(raw: str, roots: list[Path]) -> bool:
    real = Path(os.path.realpath(Path(raw).expanduser()))
    return any(real.is_relative_to(root) for root in roots)


def _send(remote: objstore.Remote, path: Path, result: Staged) -> str:
    """Put one file at ``inputs/<source_id>`` unless it is there; its reference."""
    from pyarrow import fs as pafs

    from pipelines.sources import hash_file
    from pipelines.uploads import safe_name

    source_id = hash_file(path)
    key = remote.path(INPUTS, source_id)
    filesystem = remote.filesystem()
    try:
        there = filesystem.get_file_info(key).type == pafs.FileType.File
        if not there:
            with open(path, "rb") as local, filesystem.open_output_stream(key, metadata={}) as out:
                shutil.copyfileobj(local, out, BLOCK)
            result.sent += 1
            result.bytes_sent += path.stat().st_size
    except OSError as exc:
        raise StoreUnavailable(
            f"Could not send {path} to {remote.url(INPUTS)}: {exc}", path=str(path)
        ) from exc
    return f"{remote.url(INPUTS, source_id)}#{safe_name(path.name)}"


# --- deleting inputs no job needs any more --------------------------------------------------
_SOURCE_ID = re.compile("[0-9a-f]{64}")
GRACE_S = 3600.0
"""An input staged or named by a job this recently is never deleted: a job being submitted
names its inputs only after they are staged."""


@dataclass
class Expired:
    """What :func:`expire` did to ``<store>/inputs``."""

    removed: int = 0
    bytes_removed: int = 0
    kept: int = 0
    """Inputs left in the store."""
    needed: int = 0
    """Of those kept, the ones a job that has not ended names (whatever their age)."""

    def report(self) -> dict[str, int]:
        return {
            "removed": self.removed,
            "bytes": self.bytes_removed,
            "kept": self.kept,
            "needed": self.needed,
        }


def expire(settings: Settings, *, at: dt.datetime | None = None) -> Expired:
    """Delete the staged inputs that are no longer needed: none of the jobs that have not ended
    (queued or running) names them, and none was staged or named by any job in the last
    ``inputs_retention_days`` (nor in the last hour, :data:`GRACE_S`). This machine's copies
    of them go too; objects not named by a source id (not put there by :func:`stage`) stay.
    Without a store there is nothing to do.

    >>> expire(settings).report()  # doctest: +SKIP
    {'removed': 12, 'bytes': 48213340, 'kept': 3, 'needed': 1}
    """
    from pyarrow import fs as pafs

    result = Expired()
    remote = objstore.remote(settings)
    if remote is None:
        return result
    moment = at or dt.datetime.now(dt.UTC)
    cutoff = moment - max(dt.timedelta(days=settings.inputs_retention_days), dt.timedelta(seconds=GRACE_S))
    filesystem = remote.filesystem()
    selector = pafs.FileSelector(remote.path(INPUTS), allow_not_found=True)
    try:
        listed = filesystem.get_file_info(selector)
        stored = [i for i in listed if i.type == pafs.FileType.File and _SOURCE_ID.fullmatch(i.base_name)]
    except OSError as exc:
        raise StoreUnavailable(f"Could not list {remote.url(INPUTS)}: {exc}") from exc
    if not stored:
        return result
    unfinished, last_named = _uses(settings)
    for info in stored:
        source_id = info.base_name
        if source_id in unfinished:
            result.kept += 1
            result.needed += 1
            continue
        staged_at = _utc(info.mtime or moment)
        last = max(staged_at, last_named.get(source_id, staged_at))
        if last >= cutoff:
            result.kept += 1
            continue
        try:
            filesystem.delete_file(info.path)
        except OSError as exc:
            if not objstore.is_missing(exc):  # gone already: another maintenance run took it
                raise StoreUnavailable(f"Could not delete {info.path}: {exc}") from exc
        shutil.rmtree(settings.cache_dir / INPUTS / source_id, ignore_errors=True)
        result.removed += 1
        result.bytes_removed += int(info.size or 0)
    log.info(
        "deleted %d staged inputs (%d bytes) from %s; %d kept, %d of them for jobs not ended",
        result.removed, result.bytes_removed, remote.url(INPUTS), result.kept, result.needed,
    )  # fmt: skip
    return result


def _uses(settings: Settings) -> tuple[set[str], dict[str, dt.datetime]]:
    """The staged inputs that jobs name: those of jobs that have not ended, and when each was
    last named by any job (its latest row)."""
    from pipelines import analytics

    rows = analytics.query(
        settings, 'SELECT status, paths, "at" FROM job_state WHERE paths LIKE ?', [f"%/{INPUTS}/%"]
    )
    unfinished: set[str] = set()
    last_named: dict[str, dt.datetime] = {}
    for status, paths, at in rows.iter_rows():
        named = {m["source_id"] for p in json.loads(paths) if (m := objstore.INPUT_REFERENCE.match(str(p)))}
        if status not in FINISHED_STATUSES:
            unfinished |= named
        at = _utc(at)
        for source_id in named:
            if source_id not in last_named or last_named[source_id] < at:
                last_named[source_id] = at
    return unfinished, last_named


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
