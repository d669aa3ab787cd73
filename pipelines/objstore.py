"""Where the shared stores live: the home folder, or an S3-compatible bucket.

With ``INLET_STORE=s3://bucket/prefix`` the LanceDB tables (``<store>/lancedb``), the
analytics files (``<store>/analytics``) and staged inputs (``<store>/inputs``) live in the
bucket; the home keeps only this machine's caches, uploads and Prefect files. The bucket is
reached with the standard AWS variables (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``), read here and nowhere else: the LanceDB store
and the analytics both ask :func:`remote` for the location, its LanceDB options and its
filesystem. Unset, :func:`remote` is ``None`` and everything stays under the home. A worker
reads a staged input (``pipelines.staging`` sends them) through :func:`fetch_input`.

    >>> target = remote(settings)  # doctest: +SKIP
    >>> target.url("lancedb"), target.lancedb_options()  # doctest: +SKIP
    ('s3://team/kb/lancedb', {'aws_endpoint': 'http://127.0.0.1:9000', 'allow_http': 'true', ...})
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.config import Settings, parse_store
from pipelines.errors import NotFound, StoreUnavailable

SCHEME = "s3://"


@dataclass(frozen=True)
class Remote:
    """An S3-compatible location and how to reach it (endpoint and region from the environment;
    the keys are read by each client from ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``)."""

    bucket: str
    prefix: str
    endpoint: str | None
    region: str | None

    @property
    def uri(self) -> str:
        return self.url()

    def key(self, *parts: str) -> str:
        """The object key (without the bucket) of ``parts`` under the prefix."""
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))

    def path(self, *parts: str) -> str:
        """``bucket/prefix/parts``: the form pyarrow's S3 filesystem takes."""
        return "/".join(p for p in (self.bucket, self.key(*parts)) if p)

    def url(self, *parts: str) -> str:
        """``s3://bucket/prefix/parts``."""
        return SCHEME + self.path(*parts)

    def lancedb_options(self) -> dict[str, str]:
        """``storage_options`` for ``lancedb.connect``: endpoint, region, plain HTTP when the
        endpoint is ``http://``, and v2 manifest paths for new tables (their latest version is
        found with one listing on an object store, which has no cheap directory scan)."""
        options = {"new_table_enable_v2_manifest_paths": "true"}
        if self.endpoint:
            options["aws_endpoint"] = self.endpoint
            if self.endpoint.startswith("http://"):
                options["allow_http"] = "true"
        if self.region:
            options["aws_region"] = self.region
        return options

    def size(self, *parts: str) -> int:
        """Bytes of every object under ``parts`` (0 when there is none)."""
        from pyarrow import fs

        selector = fs.FileSelector(self.path(*parts), recursive=True, allow_not_found=True)
        infos = self.filesystem().get_file_info(selector)
        return sum(int(i.size or 0) for i in infos if i.type == fs.FileType.File)

    def filesystem(self) -> Any:
        """A pyarrow ``S3FileSystem`` on this endpoint (one per process and endpoint)."""
        return _filesystem(self.endpoint, self.region)


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def remote(settings: Settings) -> Remote | None:
    """The bucket of ``settings.store`` with its endpoint and region, or ``None`` when the
    stores live in the home."""
    return at(settings.store) if settings.store else None


def at(uri: str) -> Remote:
    """The bucket of ``uri`` (``s3://bucket/prefix``), reached with this process's AWS variables."""
    bucket, prefix = parse_store(uri)
    endpoint = _env("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
    region = _env("AWS_REGION", "AWS_DEFAULT_REGION")
    return Remote(bucket, prefix, endpoint.rstrip("/") if endpoint else None, region)


@functools.lru_cache(maxsize=8)
def _filesystem(endpoint: str | None, region: str | None) -> Any:
    from pyarrow import fs

    options: dict[str, Any] = {}
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        options.update(endpoint_override=host or scheme, scheme=scheme if host else "https")
    if region:
        options["region"] = region
    key, secret = _env("AWS_ACCESS_KEY_ID"), _env("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        options.update(access_key=key, secret_key=secret, session_token=_env("AWS_SESSION_TOKEN"))
    return fs.S3FileSystem(**options)


def read_bytes(filesystem: Any, path: str) -> bytes | None:
    """The bytes of one object, or ``None`` when there is none."""
    try:
        with filesystem.open_input_stream(path) as stream:
            data: bytes = stream.read()
            return data
    except FileNotFoundError:
        return None
    except OSError as exc:
        if is_missing(exc):
            return None
        raise


def write_bytes(filesystem: Any, path: str, data: bytes) -> None:
    """Write one object; it appears whole or not at all (an S3 PUT is atomic)."""
    with filesystem.open_output_stream(path, metadata={}) as stream:
        stream.write(data)


MISSING_SIGNS = ("does not exist", "nosuchkey", "no such file", "no such key")


def is_missing(exc: BaseException) -> bool:
    """True when ``exc`` says an object is not there (deleted between a listing and a read)."""
    return isinstance(exc, FileNotFoundError) or any(s in str(exc).lower() for s in MISSING_SIGNS)


# --- staged inputs (sent by ``pipelines.staging``, read by workers) ---------------------------
INPUTS = "inputs"
BLOCK = 8 * 1024 * 1024
INPUT_REFERENCE = re.compile(
    r"^(?P<root>s3://.+)/" + INPUTS + r"/(?P<source_id>[0-9a-f]{64})(?:#(?P<name>.*))?$"
)
"""A staged input: ``<store>/inputs/<source_id>#<file name>``."""
STAGED_ID = r"/" + INPUTS + r"/([0-9a-f]{64})(?:#.*|/[^/]*)?$"
"""The source id in a staged input's reference or in the path of a worker's copy of it
(``<cache>/inputs/<source_id>/<name>``), as group 1; a regular expression that Python and
DuckDB (RE2) read alike."""
_STAGED_ID = re.compile(STAGED_ID)
_UNSAFE = re.compile(r"[^\w.\-+()\[\] ,@&']")
RESUBMIT_HINT = (
    "Staged files are deleted from the store once no job has named them for "
    "INLET_INPUTS_RETENTION_DAYS days; submit the file again (inlet ingest <file>), which stages it anew."
)


def staged_id(path: str) -> str | None:
    """The source id of a staged input, from its reference or the path of a worker's copy of
    it; ``None`` for any other path."""
    match = _STAGED_ID.search(str(path))
    return match[1] if match else None


def input_name(reference: str) -> str:
    """The file name a staged input is known by (the name given when it was staged, made safe
    as a worker's copy is named); the last part of any other path."""
    match = INPUT_REFERENCE.match(reference)
    if match is None:
        return Path(reference).name
    name = _UNSAFE.sub("_", (match["name"] or "").replace("\\", "/").rsplit("/", 1)[-1]).strip(". ")
    return name or match["source_id"]


def local_copy(reference: str, settings: Settings) -> Path:
    """Where :func:`fetch_input` keeps the copy of a staged input on this machine:
    ``<cache>/inputs/<source_id>/<name>``.

    Raises:
        NotFound: ``reference`` is not a staged input.
    """
    return settings.cache_dir / INPUTS / _match(reference)["source_id"] / input_name(reference)


def _match(reference: str) -> re.Match[str]:
    match = INPUT_REFERENCE.match(reference)
    if match is None:
        raise NotFound(f"Not a staged input: {reference}", path=reference, stage="validate")
    return match


def _gone(reference: str, name: str) -> NotFound:
    return NotFound(
        f"The staged input {name} is not in the store (deleted, or never sent): {reference}",
        path=reference, stage="validate", hint=RESUBMIT_HINT,
    )  # fmt: skip


def fetch_input(reference: str, settings: Settings) -> Path:
    """The local copy of a staged input, fetched into ``<cache>/inputs/<source_id>/<name>``
    unless it is there already; its bytes are checked against ``source_id``.

    The store is asked first, also when a copy is cached: an input the maintenance deleted
    (``inputs_retention_days``) is not found on any worker, whatever its cache holds, and the
    copy of it is dropped.

    Raises:
        NotFound: the store has no such input (the hint says to submit the file again), or
            ``reference`` is not one.
        StoreUnavailable: the store could not be read (retryable).
    """
    from pyarrow import fs as pafs

    match = _match(reference)
    source_id, remote = match["source_id"], at(match["root"])
    target = local_copy(reference, settings)
    key = remote.path(INPUTS, source_id)
    try:
        there = remote.filesystem().get_file_info(key).type == pafs.FileType.File
    except OSError as exc:
        raise StoreUnavailable(
            f"Could not reach the staged input {reference}: {exc}", path=reference, stage="validate"
        ) from exc
    if not there:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise _gone(reference, target.name)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    try:
        with remote.filesystem().open_input_stream(key) as stream:
            with open(partial, "wb") as out:
                while block := stream.read(BLOCK):
                    digest.update(block)
                    out.write(block)
        if digest.hexdigest() != source_id:
            raise StoreUnavailable(
                f"The staged input {reference} does not match its hash (a write under way?)",
                path=reference, stage="validate",
            )  # fmt: skip
        os.replace(partial, target)
    except OSError as exc:
        if is_missing(exc):  # deleted between the look and the read
            raise _gone(reference, target.name) from exc
        raise StoreUnavailable(
            f"Could not fetch {reference}: {exc}", path=reference, stage="validate"
        ) from exc
    finally:
        partial.unlink(missing_ok=True)
    return target
