"""Snippets: the part of a chunk that best matches a query, with the query's words marked.

Words are matched case-insensitively on their stem (a crude suffix strip: "countries" matches
"country"), stop words are ignored, and the marked words are wrapped in ``**`` so that the
snippet reads in a terminal and renders as bold in Markdown. Misspelt query words (``fuzzy``)
also mark the words within their edit distance, the way fuzzy keyword search found them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

_WORD = re.compile(r"\w+", re.UNICODE)
STOP_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can cannot could did do does doing done down during each
    else ever few for from further get gets got had has have having he her here hers herself him
    himself his how however i if in into is it its itself just let may me might more most much
    must my myself no nor not now of off on once one only or other ought our ours ourselves out
    over own same shall she should since so some such than that the their theirs them themselves
    then there these they this those though through thus to too under until up upon us very was
    we were what whatever when where whether which while who whom whose why will with within
    without would yet you your yours yourself yourselves""".split()
)
"""English function words: never marked in a snippet unless the query has nothing else (the
full-text index drops its own stop words when it ranks)."""
_SUFFIXES = ("ingly", "edly", "ings", "ing", "ies", "ied", "ers", "est", "ed", "es", "er", "ly", "s", "y")


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light stem: lower case, common English suffixes removed (never below 3 letters)."""
    word = word.lower()
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def query_terms(query: str) -> set[str]:
    """Stems of the query's content words (all words if the query is only stop words)."""
    words = [w.lower() for w in _WORD.findall(query)]
    content = [w for w in words if w not in STOP_WORDS] or words
    return {stem(w) for w in content}


def within_edits(a: str, b: str, limit: int) -> bool:
    """True when ``a`` and ``b`` differ by at most ``limit`` insertions, deletions or
    substitutions (Levenshtein), checked in O(len * limit).

    >>> within_edits("pipelnes", "pipelines", 1)
    True
    """
    if abs(len(a) - len(b)) > limit:
        return False
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
        if min(current) > limit:
            return False
        previous = current
    return previous[-1] <= limit


@functools.lru_cache(maxsize=64)
def _matcher(query: str, fuzzy: tuple[str, ...]) -> Callable[[str], bool]:
    """Whether a word of the text is marked for ``query``; built once per query (the snippets
    of one search share it, and so does the same search again), each word decided once."""
    terms = query_terms(query)
    typos = [(t.lower(), 1 if len(t) <= 6 else 2) for t in fuzzy]
    cache: dict[str, bool] = {}

    def matches(word: str) -> bool:
        lowered = word.lower()
        if lowered not in cache:
            cache[lowered] = stem(lowered) in terms or any(
                lowered[:1] == t[:1] and within_edits(lowered, t, n) for t, n in typos
            )
        return cache[lowered]

    return matches


def _marked_words(text: str, is_match: Callable[[str], bool]) -> re.Pattern[str] | None:
    """A pattern that finds the words of ``text`` to mark (whole words, any case), or ``None``
    when there are none: each distinct word is decided once, and the text is scanned by one
    compiled pattern rather than word by word in Python."""
    words = {w for w in set(_WORD.findall(text.lower())) if is_match(w)}
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return _compiled(rf"(?<!\w)(?:{alternatives})(?!\w)")


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.UNICODE)


def snippet(text: str, query: str, width: int = 240, mark: str = "**", fuzzy: list[str] | None = None) -> str:
    """The ``width``-character window of ``text`` with the most query words, words marked.

    ``fuzzy``: misspelt query words; words of the text within 1 edit (2 for words longer than
    six letters) of one of them are marked too.

    >>> snippet("Data pipelines move data.", "pipelnes", fuzzy=["pipelnes"])
    'Data **pipelines** move data.'
    """
    is_match = _matcher(query, tuple(fuzzy or ()))
    found = _marked_words(text, is_match)
    hits = list(found.finditer(text)) if found is not None else []
    if len(text) <= width:
        start, end = 0, len(text)
    elif hits:
        best, best_count = hits[0].start(), 0
        for h in hits:  # window starting a little before each hit; keep the densest
            lo = max(0, h.start() - width // 4)
            count = sum(1 for other in hits if lo <= other.start() < lo + width)
            if count > best_count:
                best, best_count = lo, count
        start, end = best, min(len(text), best + width)
    else:
        start, end = 0, width
    # Snap to word boundaries.
    if start > 0:
        space = text.rfind(" ", 0, start)
        start = space + 1 if space >= 0 and start - space < 30 else start
    if end < len(text):
        space = text.find(" ", end)
        end = space if 0 <= space - end < 30 else end
    piece = text[start:end].lstrip(" \t\n.,;:!?-\u2014\u2013)]")
    marked = found.sub(lambda m: f"{mark}{m.group()}{mark}", piece) if found is not None else piece
    marked = " ".join(marked.split())
    return ("… " if start > 0 else "") + marked + (" …" if end < len(text) else "")
