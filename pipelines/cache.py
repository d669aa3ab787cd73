"""The extraction cache: one JSON file per (source bytes, extraction settings).

Extraction and transcription are the expensive steps before embedding; their result is kept
under ``home/cache/extract`` keyed by content hash plus the settings and model that shaped it,
so a new process (or a re-run after a crash) reuses it. ``inlet show`` reads it back.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from pipelines.config import Settings
from pipelines.records import Extraction, Source, is_media

EXTRACTOR_VERSION = "1"


def extraction_key(source: Source, settings: Settings) -> str:
    """The cache key of a source's extraction."""
    if is_media(source.kind):
        return f"{source.source_id}-a{EXTRACTOR_VERSION}-{settings.transcription_key()}"
    if source.kind in ("pdf", "image"):  # pages may be read by OCR, shaped by its settings
        return f"{source.source_id}-{source.kind}{EXTRACTOR_VERSION}-{settings.ocr_key()}"
    return f"{source.source_id}-{source.kind}{EXTRACTOR_VERSION}"


def _path(settings: Settings, key: str) -> Path:
    return settings.cache_dir / "extract" / key[:2] / f"{key}.json"


def _entries(source_id: str, settings: Settings) -> list[Path]:
    """Every cached extraction of ``source_id`` (one per settings or model it was made with)."""
    return list((settings.cache_dir / "extract" / source_id[:2]).glob(f"{source_id}-*.json"))


def load(source: Source, settings: Settings) -> Extraction | None:
    """The cached extraction of ``source``, or ``None``."""
    path = _path(settings, extraction_key(source, settings))
    try:
        extraction = Extraction.from_dict(json.loads(path.read_text("utf-8")))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, AttributeError):  # damaged: made again, and saved over it
        return None
    # The bytes are the same; the name and place may not be.
    extraction.source.path, extraction.source.file = source.path, source.file
    extraction.cached, extraction.peak_mb = True, None  # reading it back took no parser's memory
    if extraction.language is None and not is_media(source.kind):
        # kept before text sources were given a language: telling it costs a millisecond
        from pipelines.language import detect_segments

        extraction.language = detect_segments(extraction.segments)
    return extraction


def save(extraction: Extraction, settings: Settings) -> None:
    """Store an extraction atomically (write to a temporary file, then rename)."""
    path = _path(settings, extraction_key(extraction.source, settings))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        # A lone surrogate (a file name that is not UTF-8) becomes a JSON \u escape: read back as it was.
        # (json.dumps, not json.dump: only the former runs the C encoder, three times as fast)
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(json.dumps(extraction.to_dict(), ensure_ascii=False))
        os.replace(tmp, path)
    except BaseException:  # a full disk: no half-written entry is left behind
        Path(tmp).unlink(missing_ok=True)
        raise


def find(source_id: str, settings: Settings) -> Extraction | None:
    """Any cached extraction of ``source_id`` (used to show what was extracted)."""
    newest = max(_entries(source_id, settings), key=lambda p: p.stat().st_mtime, default=None)
    return Extraction.from_dict(json.loads(newest.read_text("utf-8"))) if newest else None


def forget(source_id: str, settings: Settings) -> int:
    """Drop every cached extraction of ``source_id``; how many there were."""
    entries = _entries(source_id, settings)
    for path in entries:
        path.unlink(missing_ok=True)
    return len(entries)
