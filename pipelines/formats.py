"""How inlet writes sizes, times and file names for people: one rule each, used by messages, the
CLI and the dashboard alike."""

from __future__ import annotations

import math
import unicodedata
from pathlib import PurePath


def human_size(n: int | None) -> str:
    """``812 B``, ``4.9 kB``, ``1.2 MB``, ``2.0 GB`` (powers of 1000, as file managers show them);
    ``""`` when unknown.

    >>> human_size(812), human_size(4900), human_size(1_234_567), human_size(None)
    ('812 B', '4.9 kB', '1.2 MB', '')
    """
    if n is None:
        return ""
    if n < 1000:
        return f"{int(n)} B"
    for unit, scale in (("kB", 1e3), ("MB", 1e6)):
        if n < scale * 1000:
            return f"{n / scale:.1f} {unit}"
    return f"{n / 1e9:.1f} GB"


def clock(seconds: float | None) -> str:
    """A position or length in a recording: ``mm:ss.s``, ``h:mm:ss.s`` from one hour on; ``?`` when
    unknown.

    >>> clock(7.5), clock(75), clock(3725.25), clock(None)
    ('00:07.5', '01:15.0', '1:02:05.2', '?')
    """
    if seconds is None or not math.isfinite(float(seconds)):
        return "?"
    tenths = round(max(float(seconds), 0.0) * 10)  # round once, so 59.96 s is 01:00.0
    hours, rest = divmod(tenths, 36000)
    minutes, rest = divmod(rest, 600)
    text = f"{minutes:02d}:{rest // 10:02d}.{rest % 10}"
    return f"{hours}:{text}" if hours else text


def container_name(container: str, file: str = "") -> str:
    """FFmpeg's container name made short: the file's extension when FFmpeg lists it among the
    names of its demuxer (``mov,mp4,m4a,...`` for ``talk.mp4`` is ``mp4``), else the first name.

    >>> container_name("mov,mp4,m4a,3gp,3g2,mj2", "talk.mp4"), container_name("matroska,webm", "x.bin")
    ('mp4', 'matroska')
    """
    names = [n.strip() for n in container.split(",") if n.strip()]
    suffix = PurePath(file).suffix.lower().lstrip(".")
    return suffix if suffix in names else (names[0] if names else container)


_UNSHOWN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Unicode categories written as escapes: controls (a newline, the terminal's ESC), format
characters (right-to-left overrides and other direction marks, which reorder what follows),
surrogates (bytes of a name that were not UTF-8), private use, unassigned, line separators."""


def printable(text: str) -> str:
    r"""``text`` (a file name, a message that holds one) safe to show on one line: what would
    break the line, drive the terminal or reorder the text is written as its escape.

    >>> printable("report\nfinal.pdf"), printable("invoice\u202efdp.exe"), printable("caf\xe9.txt")
    ('report\\nfinal.pdf', 'invoice\\u202efdp.exe', 'café.txt')
    """
    if text.isprintable():
        return text
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in _UNSHOWN else ch
        for ch in text
    )


def storable(text: str) -> str:
    r"""``text`` as valid UTF-8, for the stores (Parquet, LanceDB): the bytes of a file name that
    are not UTF-8 (which Python keeps as lone surrogates) become ``\xNN``, any other lone
    surrogate ``\udNNN``. Text that is valid already is returned as it is.

    >>> storable("caf\udce9.txt"), storable("café.txt")
    ('caf\\xe9.txt', 'café.txt')
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:
            return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text
