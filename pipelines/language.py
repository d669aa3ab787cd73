"""The language of a text source, told from its words (ISO 639-1 codes, or ISO 639-3 where a
language has no two-letter code).

Recordings get theirs from the transcriber; every other source is classified here after
extraction, from a sample of its text spread over the whole document (a long book is not read
twice). Two identifiers share the work, each where it is the better one:

- a sample of at least :data:`CLD2_MIN_CHARS` characters goes to Chromium's CLD2 (``pycld2``,
  compiled: about 0.1 ms for an abstract, a seventh of ``py3langid``'s time, and as right or
  more on text of that length);
- a shorter one, or one CLD2 cannot tell (unsure, or a script rather than a language), goes to ``py3langid``, the more accurate on a sentence or two. Its model loads on
  first use (about 0.6 s and 120 MB), so a worker that only sees long documents never loads it.

A text too short or too mixed to tell (CLD2 unsure and ``py3langid``'s probability under
``MIN_PROBABILITY``) gets no language rather than a guess.

    >>> detect("The moon pulls the oceans toward it and the water rises on the coast.")
    'en'
"""

from __future__ import annotations

import re
import threading
from itertools import islice
from typing import Any

from pipelines.records import Segment

MIN_PROBABILITY = 0.5
"""Least probability ``py3langid`` must give its best language for it to be recorded."""
MIN_LETTERS = 20
"""Fewest letters a text needs before its language is guessed at all."""
SAMPLE_CHARS = 20_000
"""Characters classified at most, taken from segments spread over the document."""
CLD2_MIN_CHARS = 400
"""Shortest sample CLD2 classifies: from about this length it is as right as ``py3langid`` or
more (translated messages in 42 languages: 0.991 against 0.990 at 600 characters, 0.997
against 0.988 at 1,500), below it less (0.960 against 0.978 at 80 characters)."""
CLD2_MIN_PERCENT = 50
"""Least share of the text (percent) CLD2's best language must cover for it to be recorded."""

_CLD2_CODES = {"iw": "he", "jw": "jv", "zh-Hant": "zh"}
"""CLD2's codes where they differ from ``py3langid``'s (old ISO codes, a script variant)."""
_REFUSED_BY_CLD2 = re.compile(
    "[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef\ud800-\udfff"
    + "".join(chr(plane * 0x10000 + last) for plane in range(17) for last in (0xFFFE, 0xFFFF))
    + "]"
)
"""Code points CLD2 takes for invalid UTF-8 and refuses the whole text for: control characters
but tab and line ends, noncharacters, lone surrogates. Read as spaces."""
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_identifier: Any = None
_lock = threading.Lock()


def _model() -> Any:
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier


def _cld2(text: str) -> str | None:
    """CLD2's language of ``text`` when it is sure of one, else ``None``."""
    import pycld2

    try:
        reliable, _, found = pycld2.detect(_REFUSED_BY_CLD2.sub(" ", text))
    except pycld2.error:  # anything else it refuses: py3langid tells
        return None
    _, code, percent, _ = found[0]
    if not reliable or percent < CLD2_MIN_PERCENT or code == "un" or code.startswith(("xx", "zz")):
        return None  # unsure, or a script rather than a language
    return str(_CLD2_CODES.get(code, code))


def detect(text: str) -> str | None:
    """The code of the language ``text`` is written in, or ``None`` when it is too short or the
    best guess is not sure enough."""
    text = text[:SAMPLE_CHARS]
    if sum(1 for _ in islice(_LETTER.finditer(text), MIN_LETTERS)) < MIN_LETTERS:
        return None
    if len(text) >= CLD2_MIN_CHARS and (code := _cld2(text)) is not None:
        return code
    code, probability = _model().classify(text)
    return str(code) if probability >= MIN_PROBABILITY else None


def sample(segments: list[Segment], limit: int = SAMPLE_CHARS) -> str:
    """Up to ``limit`` characters of text from segments spread evenly over the list."""
    if not segments:
        return ""
    total = sum(len(s.text) for s in segments)
    step = max(1, round(total / limit)) if total > limit else 1
    picked = segments[::step] if step > 1 else segments
    return "\n".join(s.text for s in picked)[:limit]


def detect_segments(segments: list[Segment]) -> str | None:
    """The language of a source from its segments (see :func:`sample`)."""
    return detect(sample(segments))
