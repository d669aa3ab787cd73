"""Text and Markdown files: decoded with their detected encoding, split into paragraphs."""

from __future__ import annotations

import re
import time
from pathlib import Path

from charset_normalizer import from_bytes

from pipelines.config import Settings
from pipelines.errors import EmptyInput, UnsupportedFormat
from pipelines.records import Extraction, Segment, Source

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def decode(data: bytes, hint: str | None = None) -> tuple[str, str]:
    """Decode bytes as text: UTF-8 (with or without BOM) first, else the detected encoding."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if hint and hint not in ("utf-8", "ascii"):
        try:
            return data.decode(hint), hint
        except (UnicodeDecodeError, LookupError):
            pass
    best = from_bytes(data).best()
    if best is None:
        raise UnsupportedFormat("The file is not text in any encoding that could be detected")
    return str(best), best.encoding


def extract_text(source: Source, settings: Settings) -> Extraction:
    """Segments of a text file: one per paragraph (blank-line separated)."""
    started = time.perf_counter()
    try:
        text, encoding = decode(Path(source.path).read_bytes(), source.encoding)
    except UnsupportedFormat as exc:
        exc.path = source.path
        raise
    source.encoding = encoding
    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(text.replace("\r\n", "\n"))]
    segments = [Segment(text=p) for p in paragraphs if p]
    if not segments:
        raise EmptyInput("The text file holds only whitespace", path=source.path)
    return Extraction(source=source, segments=segments, seconds=time.perf_counter() - started)
