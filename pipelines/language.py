"""The language of a text source, told from its words with ``py3langid`` (97 languages, ISO 639-1).

Recordings get theirs from the transcriber; every other source is classified here after
extraction, from a sample of its text spread over the whole document (a long book is not read
twice). The model loads once per process (about 1 s); a classification takes well under a
millisecond. A text too short or too mixed to tell (probability under ``MIN_PROBABILITY``)
gets no language rather than a guess.

    >>> detect("The moon pulls the oceans toward it and the water rises on the coast.")
    'en'
"""

from __future__ import annotations

import re
import threading
from typing import Any

from pipelines.records import Segment

MIN_PROBABILITY = 0.5
"""Least probability py3langid must give its best language for it to be recorded."""
MIN_LETTERS = 20
"""Fewest letters a text needs before its language is guessed at all."""
SAMPLE_CHARS = 20_000
"""Characters classified at most, taken from segments spread over the document."""

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


def detect(text: str) -> str | None:
    """The ISO 639-1 code of the language ``text`` is written in, or ``None`` when it is too
    short or the best guess is not sure enough."""
    if len(_LETTER.findall(text[:SAMPLE_CHARS])) < MIN_LETTERS:
        return None
    code, probability = _model().classify(text[:SAMPLE_CHARS])
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
