"""Uploads, for apps that receive files from people (the dashboard, a web backend): keep the
files sent, checked exactly as inlet checks every upload, under the home folder.

A notebook user has paths and calls ``inlet.submit`` or ``inlet.ingest`` on them directly, so
this module is not part of ``inlet.__all__``. An app calls :func:`accept_uploads`, shows each
rejected file with its error, then submits ``batch.paths`` as one job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, BinaryIO

from inlet._settings import resolve
from pipelines.config import Settings
from pipelines.uploads import Accepted, Rejected, UploadBatch, accept_files, upload_limit_mb

__all__ = ["Accepted", "Rejected", "UploadBatch", "accept_uploads", "collection_name", "upload_limit_mb"]

_COLLECTION = re.compile(r"^[\w][\w .\-]{0,63}$", re.UNICODE)


def accept_uploads(
    files: Iterable[tuple[str, BinaryIO]], *, settings: Settings | None = None, **overrides: Any
) -> UploadBatch:
    """Check uploaded files and keep those that pass under ``home/uploads/<batch>/``.

    Args:
        files: ``(name as sent by the browser, binary stream)`` pairs.

    Returns:
        An :class:`UploadBatch`: ``accepted`` (saved, with kind, size and duration),
        ``rejected`` (with a classified error and its hint) and ``paths`` to submit.

    Example:
        >>> batch = accept_uploads([("talk.wav", open("talk.wav", "rb"))])  # doctest: +SKIP
        >>> job_id = inlet.submit(batch.paths, "talks")  # doctest: +SKIP
    """
    return accept_files(files, resolve(settings, overrides))


def collection_name(choice: str | None) -> str | None:
    """A collection name typed by a person, trimmed; ``None`` when empty or not a plain name (a
    letter, digit or underscore, then up to 63 of those, spaces, dots and dashes).

    >>> collection_name("  research "), collection_name(""), collection_name("../x")
    ('research', None, None)
    """
    name = (choice or "").strip()
    return name if _COLLECTION.match(name) else None
