"""Uploads: take files sent by a person (the dashboard), check them, and keep those that pass.

Each file is streamed to disk under ``home/uploads/<batch>/`` (never held whole in memory),
then checked the way ingest checks a path (kind by content, size per kind, duration, pages)
*before* it is accepted; a rejected file is deleted and reported with its classified error.
Names are checked before they touch the disk: a name that carries a folder path
(``../../evil.pdf``) is refused, and an accepted name is reduced to safe characters, so
nothing is ever written outside the batch folder.

    >>> from pipelines.config import get_settings
    >>> batch = accept_files([("notes.md", open("notes.md", "rb"))], get_settings())  # doctest: +SKIP
    >>> [a.path for a in batch.accepted], [(r.name, r.error.code) for r in batch.rejected]  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import shutil
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from pipelines.config import MB, Settings
from pipelines.errors import DamagedPdf, EmptyInput, InletError, TooLarge, TooLong, UnsafeName, classify
from pipelines.formats import human_size
from pipelines.records import KINDS
from pipelines.sources import inspect

MAX_NAME_BYTES = 180
"""Longest file name kept (in UTF-8 bytes, extension included); most file systems allow 255."""
_COPY_BLOCK = 1 << 20
_UNSAFE_CHARS = re.compile(r"[^\w.\- ()+,=@&'\[\]]", re.UNICODE)


@dataclass(frozen=True)
class Accepted:
    """A file that passed every check, saved at ``path``."""

    name: str
    path: Path
    kind: str
    size: int
    duration_s: float | None = None
    pages: int | None = None


@dataclass(frozen=True)
class Rejected:
    """A file that was refused, with the reason; nothing of it is kept on disk."""

    name: str
    error: InletError


@dataclass
class UploadBatch:
    """What became of one upload: accepted files (all in ``folder``) and rejected ones."""

    folder: Path
    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        """The accepted files' paths, ready to submit as one job."""
        return [str(a.path) for a in self.accepted]


def upload_limit_bytes(settings: Settings) -> int:
    """The most bytes any kind of file may have: larger uploads are refused while streaming."""
    return max(settings.max_bytes(kind) for kind in KINDS)


def upload_limit_mb(settings: Settings) -> int:
    """:func:`upload_limit_bytes` in whole MiB, rounded up (the unit of Streamlit's uploader)."""
    return max(1, math.ceil(upload_limit_bytes(settings) / MB))


def has_folder(name: str) -> bool:
    """True when ``name`` is not a plain file name: it has a ``/`` or ``\\``, or is ``.``/``..``.

    >>> has_folder("../../evil.pdf"), has_folder("C:\\\\x.pdf"), has_folder("report v2.pdf")
    (True, True, False)
    """
    return "/" in name or "\\" in name or name.strip() in (".", "..")


def safe_name(name: str) -> str:
    """A file name that is safe to create in a folder: the last path part of ``name``, with
    control and unusual characters replaced by ``_``, no leading dots or spaces, at most
    :data:`MAX_NAME_BYTES` bytes (the extension kept); ``upload`` when nothing is left.

    >>> safe_name("../../evil.pdf"), safe_name("My Report (final).pdf"), safe_name(".bashrc")
    ('evil.pdf', 'My Report (final).pdf', 'bashrc')
    >>> safe_name("a\\x00b|c.md"), safe_name(".."), safe_name("Größe.txt")
    ('a_b_c.md', 'upload', 'Größe.txt')
    """
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", name))[-1]
    base = "".join("_" if unicodedata.category(ch).startswith("C") else ch for ch in base)
    base = _UNSAFE_CHARS.sub("_", base).strip().lstrip(". ").rstrip(". ")
    if not base:
        return "upload"
    stem, dot, ext = base.rpartition(".")
    if not dot or len(ext.encode()) > 16:
        stem, ext = base, ""
    suffix = f".{ext}" if ext else ""
    room = MAX_NAME_BYTES - len(suffix.encode())
    stem = stem.encode()[:room].decode(errors="ignore").rstrip(". ") or "upload"
    return stem + suffix


def new_batch_folder(settings: Settings) -> Path:
    """A new, empty folder under ``home/uploads`` named by the time and a random part."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    folder = settings.uploads_dir / f"{stamp}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True, exist_ok=False)
    return folder


def accept_files(files: Iterable[tuple[str, BinaryIO]], settings: Settings) -> UploadBatch:
    """Check and keep uploaded files: ``files`` are ``(name as sent, readable binary stream)``.

    Every file gets an answer: :class:`Accepted` (saved in the batch folder) or
    :class:`Rejected` (with a classified error: ``UnsafeName``, ``TooLarge``, ``TooLong``,
    ``EmptyInput``, ``UnsupportedFormat``, ``DamagedPdf``, ...); one bad file never stops the
    others. The batch folder is removed again when no file was accepted.
    """
    batch = UploadBatch(folder=new_batch_folder(settings))
    taken: set[str] = set()
    for name, stream in files:
        result = accept_one(name, stream, batch.folder, settings, taken)
        if isinstance(result, Accepted):
            batch.accepted.append(result)
            taken.add(result.path.name.lower())
        else:
            batch.rejected.append(result)
    if not batch.accepted:
        shutil.rmtree(batch.folder, ignore_errors=True)
    return batch


def accept_one(
    name: str, stream: BinaryIO, folder: Path, settings: Settings, taken: set[str] | None = None
) -> Accepted | Rejected:
    """Check one upload and keep it in ``folder`` (see :func:`accept_files`)."""
    if has_folder(name):
        return Rejected(name, UnsafeName(f"The file name “{name}” contains a folder path", path=name))
    target = _free_path(folder, safe_name(name), taken or set())
    staged = folder / f".{uuid.uuid4().hex}.part"
    try:
        size = _stream_to(stream, staged, upload_limit_bytes(settings), name)
        if size == 0:
            raise EmptyInput("The file is empty (0 bytes)", path=name)
        source = inspect(staged, _no_size_limits(settings))  # sizes are checked below, in words
        limit = settings.max_bytes(source.kind)
        if size > limit:
            raise TooLarge(
                f"The {source.kind} file is {human_size(size)}, over the {human_size(limit)} limit"
            )
        pages = _check_pages(staged, settings) if source.kind == "pdf" else source.pages
        if not _inside(target, folder):  # safe_name makes this impossible; keep the guard anyway
            raise UnsafeName(f"The file name “{name}” would leave the upload folder", path=name)
        os.replace(staged, target)
    except Exception as exc:
        staged.unlink(missing_ok=True)
        error = classify(exc, path=name, stage="validate")
        error.path = name  # the user's name, not the staging file's
        return Rejected(name, error)
    return Accepted(name, target, source.kind, size, source.duration_s, pages)


def _stream_to(stream: BinaryIO, target: Path, limit: int, name: str) -> int:
    """Copy ``stream`` to ``target`` block by block; stop with ``TooLarge`` past ``limit``."""
    written = 0
    with open(target, "xb") as out:
        while block := stream.read(_COPY_BLOCK):
            written += len(block)
            if written > limit:
                raise TooLarge(
                    f"The file is over {human_size(limit)}, the largest size accepted for any kind",
                    path=name,
                )
            out.write(block)
    return written


def _no_size_limits(settings: Settings) -> Settings:
    huge = upload_limit_bytes(settings)
    return settings.model_copy(update={f"max_bytes_{k}": huge for k in KINDS})


def _check_pages(path: Path, settings: Settings) -> int | None:
    """The page count of a PDF, checked against the limit; ``None`` when it is encrypted (its
    password is tried at ingest). A PDF that pypdf cannot open at all is refused."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            return None
        pages = len(reader.pages)
    except Exception as exc:  # pypdf raises many types for broken files
        raise DamagedPdf(f"pypdf cannot read this PDF: {type(exc).__name__}: {exc}") from exc
    if pages == 0:
        raise DamagedPdf("The PDF has no readable pages")
    if pages > settings.max_pdf_pages:
        raise TooLong(f"The PDF has {pages} pages, over the {settings.max_pdf_pages}-page limit")
    return pages


def _free_path(folder: Path, name: str, taken: set[str]) -> Path:
    """``folder/name``, or ``folder/stem-2.ext`` … when that name is already used."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    candidate, n = name, 1
    while candidate.lower() in taken or (folder / candidate).exists():
        n += 1
        candidate = f"{stem}-{n}.{ext}" if ext else f"{stem}-{n}"
    return folder / candidate


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().parent == folder.resolve()
