"""The analytics files: append-only writes, the live set a reader sees, compaction, retention.

Layout: ``home/analytics/<table>/<YYYY-MM-DD>/<name>.parquet``. A writer adds one file per
batch of rows, written aside and renamed into place, so a reader never sees half a file.
No process ever holds a DuckDB database file, so there is no lock to wait for.

Compaction and retention replace files without a reader ever seeing a row twice or not at
all. A replacement file ``c-*.parquet`` is published by one rename, after a manifest
``c-*.parquet.replaces`` (a JSON list of the names it replaces) was written beside it. A
reader lists a folder, then drops every name that a manifest of a *listed* replacement
names. The replaced files are deleted afterwards, then the manifest; a reader that listed a
file just before it was deleted gets a missing-file error and reads again (``read.query``).
Only one process compacts at a time (a ``flock`` on ``analytics/.maintenance.lock``).

On an object store (``INLET_STORE``, :mod:`pipelines.objstore`) the same layout lives under
``<store>/analytics``. There is no rename there, and none is needed: each file is written once
under a unique key by one PUT, which makes it appear whole or not at all, and a replacement is
published the same way after its manifest. Readers list the keys and read them with pyarrow
(``read.connect``). The maintenance lock is then a ``flock`` in the home: one compaction per
machine, and the maintenance deployment runs once for all of them.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import fcntl
import io
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow.parquet as pq

from pipelines import objstore
from pipelines.config import Settings
from pipelines.formats import storable

from .schema import SCHEMA_VERSION, SCHEMAS, SORT_KEYS, VERSION_KEY, select_current

COMPACT_BELOW_BYTES = 64 * 1024 * 1024
"""Files smaller than this are folded together by compaction; bigger ones are left alone."""
REPLACED_SUFFIX = ".replaces"

_lock = threading.Lock()
log = logging.getLogger("inlet.analytics")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def table_dir(settings: Settings, table: str) -> Path:
    return settings.analytics_dir / table


def _new_name(prefix: str = "") -> str:
    """A unique file name that also says its schema version (``….v2.parquet``)."""
    stamp = now().strftime("%H%M%S%f")
    return f"{prefix}{stamp}-{os.getpid()}-{uuid.uuid4().hex[:8]}.v{SCHEMA_VERSION}.parquet"


def _write_atomic(frame: pl.DataFrame, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        frame.write_parquet(tmp, metadata={VERSION_KEY: str(SCHEMA_VERSION)}, row_group_size=128 * 1024)
        os.replace(tmp, target)
    except BaseException:  # a full disk: no half-written file is left behind
        tmp.unlink(missing_ok=True)
        raise


def _put(remote: objstore.Remote, frame: pl.DataFrame, key: str) -> None:
    """Write ``frame`` as the object ``key`` (``bucket/…``) in one PUT: whole or not at all."""
    buffer = io.BytesIO()
    frame.write_parquet(buffer, metadata={VERSION_KEY: str(SCHEMA_VERSION)}, row_group_size=128 * 1024)
    objstore.write_bytes(remote.filesystem(), key, buffer.getvalue())


def write_frame(settings: Settings, table: str, frame: pl.DataFrame) -> Path:
    """Append a frame that has exactly ``SCHEMAS[table]`` as one new file (bulk loads). On an
    object store the file is an object whose key (``bucket/…/<name>.parquet``) is returned."""
    if frame.schema != pl.Schema(SCHEMAS[table]):
        frame = frame.select(
            [
                pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c)
                for c, t in SCHEMAS[table].items()
            ]
        )
    remote = objstore.remote(settings)
    if remote is not None:
        key = remote.path("analytics", table, now().strftime("%Y-%m-%d"), _new_name())
        _put(remote, frame, key)
        return Path(key)
    folder = table_dir(settings, table) / now().strftime("%Y-%m-%d")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / _new_name()
    with _lock:
        _write_atomic(frame, target)
    return target


def record(settings: Settings, table: str, rows: list[dict[str, Any]]) -> Path | None:
    """Append ``rows`` to ``table`` as one new Parquet file; missing columns are null, ``at``
    defaults to now. Returns the file written (``None`` for no rows).

    >>> record(settings, "events", [{"job_id": "j1", "stage": "extract", "event": "end"}])  # doctest: +SKIP
    """
    if not rows:
        return None
    schema = SCHEMAS[table]
    stamp = now()
    # a file name that is not UTF-8 would fail the whole write (and with it the job)
    full = [
        {
            **dict.fromkeys(schema),
            "at": stamp,
            **{k: storable(v) if isinstance(v, str) else v for k, v in row.items()},
        }
        for row in rows
    ]
    unknown = set().union(*full) - set(schema)
    if unknown:
        raise ValueError(f"unknown {table} columns: {sorted(unknown)}; known: {sorted(schema)}")
    return write_frame(settings, table, pl.DataFrame(full, schema=schema))


# --- rows written off the caller's path ---------------------------------------------------
DEFER_S = 0.5
"""How long a deferred row waits for others to share its file (a burst of searches, one file)."""
_deferred: dict[tuple[str, str], tuple[Settings, list[dict[str, Any]]]] = {}
_deferred_lock = threading.Lock()  # held while rows are taken out and written
_state_lock = threading.Lock()  # guards _deferred itself, so adding a row never waits for a write
_deferred_wake = threading.Event()
_writer: threading.Thread | None = None


def record_soon(settings: Settings, table: str, rows: list[dict[str, Any]]) -> None:
    """Like :func:`record`, but the file is written by a background thread a moment later, so
    the caller does not wait for it. Unknown columns fail here, at once; ``at`` is now, not
    the time of the write. Every reader in this process (:func:`live_files`) and the exit of
    the interpreter write the pending rows first (:func:`flush`), so none is missed or lost
    on a normal exit. A failed write is logged, never raised.
    """
    if not rows:
        return
    schema = SCHEMAS[table]
    unknown = set().union(*rows) - set(schema)
    if unknown:
        raise ValueError(f"unknown {table} columns: {sorted(unknown)}; known: {sorted(schema)}")
    stamp = now()
    stamped = [{"at": stamp, **row} for row in rows]
    key = (settings.store or str(settings.analytics_dir), table)
    global _writer
    with _state_lock:
        _deferred.setdefault(key, (settings, []))[1].extend(stamped)
        if _writer is None or not _writer.is_alive():
            _writer = threading.Thread(target=_write_deferred, name="inlet-analytics", daemon=True)
            _writer.start()
    _deferred_wake.set()


def flush() -> int:
    """Write every deferred row now (in this thread); returns how many were written."""
    written = 0
    with _deferred_lock:
        with _state_lock:
            pending = list(_deferred.values())
            keys = list(_deferred)
            _deferred.clear()
        for (_, table), (settings, rows) in zip(keys, pending, strict=True):
            try:
                record(settings, table, rows)
                written += len(rows)
            except Exception as exc:  # noqa: BLE001 - a lost analytics row must not fail a reader or the exit
                where = settings.store or settings.analytics_dir
                log.warning("could not record %d %s rows in %s: %s", len(rows), table, where, exc)
    return written


def _write_deferred() -> None:
    while True:
        _deferred_wake.wait()
        time.sleep(DEFER_S)
        _deferred_wake.clear()
        flush()


atexit.register(flush)


# --- the live set -------------------------------------------------------------------------
def _published(name: str) -> bool:
    """Whether a file name in a day folder is a published file (not one being written aside)."""
    return name.endswith(".parquet") and not name.startswith(".")


def live_files(settings: Settings, table: str) -> list[Path]:
    """The files a reader should read now: every file but those a published replacement names
    (rows this process deferred with :func:`record_soon` are written first). On an object store
    each is an object's key (``bucket/…/<name>.parquet``) in the form of a path."""
    if _deferred:
        flush()
    remote = objstore.remote(settings)
    if remote is not None:
        return _remote_live(remote, table)
    root = table_dir(settings, table)
    if not root.is_dir():
        return []
    live: list[Path] = []
    for day in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            names = {p.name for p in day.iterdir() if _published(p.name)}
        except FileNotFoundError:
            continue
        replaced: set[str] = set()
        for name in names:
            if name.startswith("c-"):
                replaced |= _read_manifest(day / (name + REPLACED_SUFFIX))
        live += [day / n for n in sorted(names - replaced)]
    return live


def change_mark(settings: Settings, table: str) -> tuple[Any, ...] | None:
    """A value that changes whenever a file of ``table`` is published or removed in its two newest
    days (their number of files, and their newest name, which starts with its time): a process
    that follows another's writes reads the table again only when it changed. Costs a listing of
    two folders, not a query. ``None`` on an object store, where a listing is a request: read
    the table there."""
    if objstore.remote(settings) is not None:
        return None
    root = table_dir(settings, table)
    try:
        days = sorted(e.name for e in os.scandir(root) if e.is_dir())
    except FileNotFoundError:
        return ()
    mark: list[Any] = [len(days)]
    for day in days[-2:]:  # a file stamped just before midnight may land after the next day's first
        try:
            names = [e.name for e in os.scandir(root / day) if _published(e.name)]
        except FileNotFoundError:
            names = []
        mark += [day, len(names), max(names, default="")]
    return tuple(mark)


def _read_manifest(path: Path) -> set[str]:
    try:
        return set(json.loads(path.read_text()))
    except FileNotFoundError:
        return set()


# --- on an object store: keys stand for paths ----------------------------------------------
def _remote_listing(remote: objstore.Remote, table: str) -> dict[str, dict[str, int]]:
    """``{day key: {name: size}}`` of every object under ``<store>/analytics/<table>``."""
    from pyarrow import fs

    selector = fs.FileSelector(remote.path("analytics", table), recursive=True, allow_not_found=True)
    days: dict[str, dict[str, int]] = {}
    for info in remote.filesystem().get_file_info(selector):
        if info.type == fs.FileType.File:
            day, _, name = info.path.rpartition("/")
            days.setdefault(day, {})[name] = int(info.size or 0)
    return days


def _remote_manifest(remote: objstore.Remote, key: str) -> set[str]:
    data = objstore.read_bytes(remote.filesystem(), key)
    return set(json.loads(data)) if data is not None else set()


def _remote_live(remote: objstore.Remote, table: str) -> list[Path]:
    live: list[Path] = []
    for day, objects in sorted(_remote_listing(remote, table).items()):
        names = {n for n in objects if _published(n)}
        replaced: set[str] = set()
        for name in names:
            # a manifest the listing lacks is read as none: the files it named were deleted
            # before it, so a reader that still listed one fails to read it and starts over
            if name.startswith("c-") and name + REPLACED_SUFFIX in objects:
                replaced |= _remote_manifest(remote, f"{day}/{name}{REPLACED_SUFFIX}")
        live += [Path(day) / n for n in sorted(names - replaced)]
    return live


def _remote_delete(remote: objstore.Remote, key: str) -> None:
    try:
        remote.filesystem().delete_file(key)
    except OSError as exc:
        if not objstore.is_missing(exc):
            raise


def _remote_replace(remote: objstore.Remote, day: str, old: list[Path], frame: pl.DataFrame | None) -> None:
    """:func:`_replace` on an object store: manifest, then the replacement (the commit point),
    then the replaced objects, then the manifest."""
    manifest = None
    if frame is not None and frame.height:
        target = f"{day}/{_new_name('c-')}"
        manifest = target + REPLACED_SUFFIX
        objstore.write_bytes(remote.filesystem(), manifest, json.dumps([p.name for p in old]).encode())
        _put(remote, frame, target)
    for path in old:
        _remote_delete(remote, str(path))
        if path.name.startswith("c-"):
            _remote_delete(remote, str(path) + REPLACED_SUFFIX)
    if manifest is not None:
        _remote_delete(remote, manifest)


def _remote_sweep(remote: objstore.Remote, day: str, objects: dict[str, int]) -> None:
    """Finish replacements a crash interrupted (see :func:`_sweep`)."""
    for name in objects:
        if name.startswith("c-") and name.endswith(REPLACED_SUFFIX):
            if name.removesuffix(REPLACED_SUFFIX) in objects:
                for replaced in _remote_manifest(remote, f"{day}/{name}"):
                    _remote_delete(remote, f"{day}/{replaced}")
            _remote_delete(remote, f"{day}/{name}")


def register_remote(
    con: duckdb.DuckDBPyConnection, remote: objstore.Remote, name: str, files: list[Path]
) -> str:
    """Make the objects ``files`` readable in ``con`` (pyarrow datasets, scanned lazily, one
    per schema version); the SQL relation over all of them, columns matched by name."""
    import pyarrow.dataset as ds

    by_version: dict[int, list[str]] = {}
    for f in files:
        by_version.setdefault(file_version(f, remote), []).append(str(f))
    parts = []
    for version, keys in sorted(by_version.items()):
        view = f"_{name}_v{version}"
        con.register(view, ds.dataset(keys, filesystem=remote.filesystem(), format="parquet"))
        parts.append(f"SELECT * FROM {view}")
    return "(" + " UNION ALL BY NAME ".join(parts) + ")"


def file_version(path: Path, remote: objstore.Remote | None = None) -> int:
    """The schema version a file was written with, from its name (``….v2.parquet``) or, for a
    name without one, its footer (1 for files from before versioning)."""
    match = _VERSIONED_NAME.search(path.name)
    if match:
        return int(match[1])
    if remote is not None:
        meta = pq.read_metadata(str(path), filesystem=remote.filesystem()).metadata or {}
        return int(meta.get(VERSION_KEY.encode(), b"1"))
    meta = pq.read_metadata(path).metadata or {}
    return int(meta.get(VERSION_KEY.encode(), b"1"))


_VERSIONED_NAME = re.compile(r"\.v(\d+)\.parquet$")


# --- single-writer maintenance ------------------------------------------------------------
@contextlib.contextmanager
def maintenance_lock(settings: Settings) -> Iterator[bool]:
    """Hold the one maintenance slot of a home; yields False (and waits for nothing) if taken.
    With an object store the lock file is in the home, which keeps no analytics there."""
    if settings.store:
        settings.home.mkdir(parents=True, exist_ok=True)
        lock = settings.home / ".analytics-maintenance.lock"
    else:
        settings.analytics_dir.mkdir(parents=True, exist_ok=True)
        lock = settings.analytics_dir / ".maintenance.lock"
    with open(lock, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def parquet_source(files: list[Path]) -> str:
    """SQL reading ``files``; columns are matched by name only when their versions differ."""
    listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    mixed = any(file_version(f) != SCHEMA_VERSION for f in files)
    return f"read_parquet([{listed}]{', union_by_name = true' if mixed else ''})"


def _read_current(
    table: str,
    files: list[Path],
    where: str = "",
    params: list[Any] | None = None,
    remote: objstore.Remote | None = None,
) -> pl.DataFrame:
    con = duckdb.connect(":memory:")
    source = parquet_source(files) if remote is None else register_remote(con, remote, table, files)
    order = ", ".join(f'"{c}"' for c in SORT_KEYS[table])
    sql = f"SELECT * FROM ({select_current(table, source)}) {where} ORDER BY {order}"
    try:
        return pl.from_arrow(con.sql(sql, params=params or None).to_arrow_table())  # type: ignore[return-value]  # a Table gives a DataFrame; pyarrow is untyped
    finally:
        con.close()


def _replace(day: Path, old: list[Path], frame: pl.DataFrame | None) -> None:
    """Publish ``frame`` (if any rows) in place of ``old``, then delete ``old``."""
    if frame is not None and frame.height:
        target = day / _new_name("c-")
        manifest = day / (target.name + REPLACED_SUFFIX)
        tmp = manifest.with_name(f".{manifest.name}.tmp")
        tmp.write_text(json.dumps([p.name for p in old]))
        os.replace(tmp, manifest)
        _write_atomic(frame, target)  # the commit point: from here readers skip ``old``
    else:
        manifest = None
    for path in old:
        path.unlink(missing_ok=True)
        _manifest_of(path).unlink(missing_ok=True)
    if manifest is not None:
        manifest.unlink(missing_ok=True)


def _manifest_of(path: Path) -> Path:
    return path.with_name(path.name + REPLACED_SUFFIX)


def _sweep(day: Path) -> None:
    """Finish replacements a crash interrupted: delete replaced files, orphan manifests, temp files."""
    for manifest in day.glob("c-*" + REPLACED_SUFFIX):
        published = manifest.with_name(manifest.name.removesuffix(REPLACED_SUFFIX))
        if published.exists():
            for name in _read_manifest(manifest):
                (day / name).unlink(missing_ok=True)
        manifest.unlink(missing_ok=True)
    for tmp in day.glob(".*.tmp"):
        with contextlib.suppress(FileNotFoundError):  # a writer may be renaming it right now
            if now().timestamp() - tmp.stat().st_mtime > 3600:
                tmp.unlink()


def compact(settings: Settings, *, below_bytes: int = COMPACT_BELOW_BYTES) -> dict[str, dict[str, int]]:
    """Fold each day's small files (and any file of an older schema version) into one file.

    Safe while writers append and readers query (see the module docstring); a second
    compaction running at the same time returns at once with ``{"skipped": ...}``. Returns
    ``{table: {"files_before": n, "files_after": m, "rows": r}}``.

    >>> compact(settings)  # doctest: +SKIP
    {'events': {'files_before': 812, 'files_after': 3, 'rows': 40600}, ...}
    """
    report: dict[str, dict[str, int]] = {}
    remote = objstore.remote(settings)
    with maintenance_lock(settings) as held:
        if not held:
            return {"skipped": {"files_before": 0, "files_after": 0, "rows": 0}}
        if remote is not None:
            return {table: _compact_remote(settings, remote, table, below_bytes) for table in SCHEMAS}
        for table in SCHEMAS:
            before = live_files(settings, table)
            rows = 0
            by_day: dict[Path, list[Path]] = {}
            for path in before:
                by_day.setdefault(path.parent, []).append(path)
            for day, files in by_day.items():
                _sweep(day)
                small = [
                    f for f in files if f.stat().st_size < below_bytes or file_version(f) < SCHEMA_VERSION
                ]
                if len(small) < 2 and not any(file_version(f) < SCHEMA_VERSION for f in small):
                    continue
                frame = _read_current(table, small)
                rows += frame.height
                _replace(day, small, frame)
            report[table] = {
                "files_before": len(before),
                "files_after": len(live_files(settings, table)),
                "rows": rows,
            }
    return report


def _compact_remote(
    settings: Settings, remote: objstore.Remote, table: str, below_bytes: int
) -> dict[str, int]:
    """:func:`compact` of one table on an object store (sizes come from the listing)."""
    listing = _remote_listing(remote, table)
    before = live_files(settings, table)
    rows = 0
    by_day: dict[str, list[Path]] = {}
    for path in before:
        by_day.setdefault(str(path.parent), []).append(path)
    for day, files in by_day.items():
        _remote_sweep(remote, day, listing.get(day, {}))
        sizes = listing.get(day, {})
        old = [f for f in files if file_version(f, remote) < SCHEMA_VERSION]
        small = [f for f in files if sizes.get(f.name, 0) < below_bytes or f in old]
        if len(small) < 2 and not old:
            continue
        frame = _read_current(table, small, remote=remote)
        rows += frame.height
        _remote_replace(remote, day, small, frame)
    return {"files_before": len(before), "files_after": len(live_files(settings, table)), "rows": rows}


def versions(settings: Settings) -> dict[str, dict[int, int]]:
    """How many live files of each schema version each table has."""
    out: dict[str, dict[int, int]] = {}
    remote = objstore.remote(settings)
    for table in SCHEMAS:
        counts: dict[int, int] = {}
        for path in live_files(settings, table):
            v = file_version(path, remote)
            counts[v] = counts.get(v, 0) + 1
        out[table] = counts
    return out


RETAINED = {
    "events": "events_retention_days",
    "errors": "errors_retention_days",
    "searches": "searches_retention_days",
}
"""Tables cleaned by retention, and the setting giving their age limit; ``jobs`` rows stay."""


def apply_retention(settings: Settings, *, at: dt.datetime | None = None) -> dict[str, int]:
    """Delete rows older than the retention settings; returns the rows removed per table.

    A file whose rows are all too old is deleted; a file with some is rewritten without them
    (published like a compaction, so readers see either the old or the new rows, never both).

    >>> apply_retention(settings)  # doctest: +SKIP
    {'events': 1200, 'errors': 3, 'searches': 0}
    """
    removed = dict.fromkeys(RETAINED, 0)
    remote = objstore.remote(settings)
    with maintenance_lock(settings) as held:
        if not held:
            return removed
        for table, setting in RETAINED.items():
            cutoff = (at or now()) - dt.timedelta(days=float(getattr(settings, setting)))
            files = live_files(settings, table)
            if not files:
                continue
            if remote is not None:
                removed[table] = _retain_remote(remote, table, files, cutoff)
                continue
            listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
            con = duckdb.connect(":memory:")
            try:
                per_file = con.execute(
                    f"""SELECT filename, count(*) AS n, count(*) FILTER (WHERE "at" < ?) AS old
                    FROM read_parquet([{listed}], union_by_name = true, filename = true) GROUP BY filename""",
                    [cutoff],
                ).fetchall()
            finally:
                con.close()
            for name, n, old in per_file:
                if not old:
                    continue
                path = Path(name)
                frame = None if old == n else _read_current(table, [path], 'WHERE "at" >= ?', [cutoff])
                _replace(path.parent, [path], frame)
                removed[table] += old
            today = now().strftime("%Y-%m-%d")
            for day in table_dir(settings, table).iterdir():
                if day.name < today:  # never today's: a writer may have just made it
                    with contextlib.suppress(OSError):
                        day.rmdir()  # only empty folders go
    return removed


def _retain_remote(remote: objstore.Remote, table: str, files: list[Path], cutoff: dt.datetime) -> int:
    """:func:`apply_retention` of one table on an object store; the rows removed."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    removed = 0
    fragments = ds.dataset([str(f) for f in files], filesystem=remote.filesystem(), format="parquet")
    for fragment in fragments.get_fragments():
        stamps = fragment.to_table(columns=["at"]).column("at")
        old = int(pc.sum(pc.less(stamps, _pa_scalar(cutoff, stamps.type))).as_py() or 0)
        if not old:
            continue
        path = Path(fragment.path)
        frame = None
        if old < len(stamps):
            frame = _read_current(table, [path], 'WHERE "at" >= ?', [cutoff], remote=remote)
        _remote_replace(remote, str(path.parent), [path], frame)
        removed += old
    return removed


def _pa_scalar(value: dt.datetime, kind: Any) -> Any:
    """``value`` as a pyarrow scalar of the timestamp type ``kind``."""
    import pyarrow as pa

    return pa.scalar(value, type=kind)
