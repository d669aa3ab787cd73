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


_WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),  # before UTF-16's, which it starts with
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_WIDE_SAMPLE = 4096


def wide_encoding(data: bytes) -> str | None:
    """UTF-32 or UTF-16 told from a byte-order mark, or UTF-16 without one (``utf-16-le``,
    ``utf-16-be``) from where its NUL bytes fall; ``None`` for anything else.

    Text in a Latin script, written in UTF-16, has a NUL byte in every other place (the high
    byte of each character): in the odd places for little-endian, the even ones for big-endian.
    That is taken as UTF-16 when the other places hold (almost) no NUL and the start decodes to
    printable text. (UTF-16 of other scripts without a mark is left to the detector.)

    >>> wide_encoding("Tides and moons".encode("utf-16-le")), wide_encoding(b"plain")
    ('utf-16-le', None)
    """
    for bom, encoding in _WIDE_BOMS:
        if data.startswith(bom):
            return encoding
    size = min(len(data), _WIDE_SAMPLE) // 2 * 2
    if size < 8:
        return None
    half = size // 2
    even, odd = data[0:size:2].count(0), data[1:size:2].count(0)
    if odd >= 0.3 * half and even <= 0.02 * half:
        candidate = "utf-16-le"
    elif even >= 0.3 * half and odd <= 0.02 * half:
        candidate = "utf-16-be"
    else:
        return None
    text = data[:size].decode(candidate, errors="replace")
    shown = sum(ch.isprintable() or ch in "\n\r\t\f" for ch in text)
    return candidate if shown >= 0.95 * len(text) else None


def decode(data: bytes, hint: str | None = None) -> tuple[str, str]:
    """Decode bytes as text: UTF-32 or UTF-16 when :func:`wide_encoding` says so, then UTF-8
    (with or without BOM), else the detected encoding."""
    wide = wide_encoding(data)
    if wide is not None:
        try:
            return data.decode(wide), wide
        except UnicodeDecodeError:  # cut inside a character, or a stray byte: keep the rest
            return data.decode(wide, errors="replace"), wide
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
