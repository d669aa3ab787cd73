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

    >>> staged = stage(["~/talks"], settings)  # doctest: +SKIP
    >>> staged.sent, staged.bytes_sent, round(staged.seconds, 1)  # doctest: +SKIP
    (3, 48213340, 1.9)
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pipelines import objstore
from pipelines.config import Settings
from pipelines.errors import StoreUnavailable

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
