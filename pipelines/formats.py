"""How inlet writes sizes and times for people: one rule each, used by messages, the CLI and the
dashboard alike."""

from __future__ import annotations

import math


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
