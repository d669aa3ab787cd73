"""Chunking: token windows over a source's segments, counted in the embedder's own tokens.

A chunk never holds more tokens than the embedder reads (its maximum sequence length less the
two special tokens), so nothing is silently truncated. Consecutive chunks overlap. Each chunk
keeps the pages or seconds it covers (and, when some of its text was read by OCR, the lowest
confidence of that text; when its segments carry a language, that language: a window never
runs from one language into the next), and its id is derived from the collection, the source,
the chunking settings and its position, so the same input always gives the same ids.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from pipelines.records import Chunk, Segment

SPECIAL_TOKENS = 2  # [CLS] and [SEP]
RULE_VERSION = 2
"""Changes whenever the same text and settings could be cut differently (2: before a word too
long for the rest of a window, such as a Markdown table rule, windows no longer creep forward a
word at a time), so the chunking key changes too."""


def chunk_id(collection: str, source_id: str, chunking_key: str, index: int) -> str:
    """Deterministic chunk id."""
    raw = f"{collection}\x1f{source_id}\x1f{chunking_key}\x1f{index}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def token_budget(requested: int, max_seq_length: int) -> int:
    """Tokens a chunk may hold: the requested size, capped by what the model reads."""
    return max(8, min(requested, max_seq_length - SPECIAL_TOKENS))


def chunk_segments(
    segments: list[Segment],
    *,
    tokenizer: Any,
    max_tokens: int,
    overlap: int,
    collection: str,
    source_id: str,
    chunking_key: str,
) -> list[Chunk]:
    """Split ``segments`` into overlapping windows of at most ``max_tokens`` tokens.

    ``tokenizer`` is a Hugging Face fast tokenizer (the embedder's). Windows run across segment
    boundaries; a chunk's text is the covered part of each segment, joined by newlines.
    """
    if overlap >= max_tokens:
        raise ValueError("overlap must be smaller than max_tokens")
    texts = [s.text for s in segments]
    if not texts:
        return []
    encoded = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    # One entry per token: (segment index, char start, char end).
    tokens: list[tuple[int, int, int]] = []
    for seg_index, offsets in enumerate(encoded["offset_mapping"]):
        tokens.extend((seg_index, start, end) for start, end in offsets)
    # A window may only start or end where a word starts, so no word is cut in two.
    word_start = [
        i == 0 or tokens[i][0] != tokens[i - 1][0] or tokens[i][1] > tokens[i - 1][2]
        for i in range(len(tokens))
    ]
    # Where the run of one language that each token is in ends (speech carries a language per
    # segment): a window stops there, so a chunk is in one language and filters by it hold.
    run_end = [len(tokens)] * len(tokens)
    for i in range(len(tokens) - 2, -1, -1):
        same = segments[tokens[i][0]].language == segments[tokens[i + 1][0]].language
        run_end[i] = run_end[i + 1] if same else i + 1
    chunks: list[Chunk] = []
    begin = 0
    while begin < len(tokens):
        end = window_end(word_start, begin, max_tokens)
        switch = run_end[begin] < end
        end = min(end, run_end[begin])
        window = tokens[begin:end]
        text = _text_of(window, texts)
        ids, spans = _tokens_of(tokenizer, text)
        while len(ids) > max_tokens and len(window) > 1:  # re-tokenising a join can add tokens
            window = window[:-1]
            end -= 1
            text = _text_of(window, texts)
            ids, spans = _tokens_of(tokenizer, text)
        covered = [segments[i] for i in sorted({t[0] for t in window})]
        pages = [s.page for s in covered if s.page is not None]
        starts = [s.start for s in covered if s.start is not None]
        ends = [s.end for s in covered if s.end is not None]
        read = [s.ocr_confidence for s in covered if s.ocr_confidence is not None]
        index = len(chunks)
        chunks.append(
            Chunk(
                chunk_id=chunk_id(collection, source_id, chunking_key, index),
                source_id=source_id,
                index=index,
                text=text,
                n_tokens=len(ids),
                page_start=min(pages) if pages else None,
                page_end=max(pages) if pages else None,
                time_start=min(starts) if starts else None,
                time_end=max(ends) if ends else None,
                ocr_confidence=min(read) if read else None,
                language=covered[0].language,
                tokens=(ids, spans),
            )
        )
        if end >= len(tokens):
            break
        if switch and end == run_end[begin]:  # the next language starts afresh, without overlap
            begin = end
            continue
        begin = next_start(word_start, begin, end, overlap=overlap, max_tokens=max_tokens)
    return chunks


def window_end(word_start: list[bool], begin: int, max_tokens: int) -> int:
    """Where a window that starts at ``begin`` ends: at most ``max_tokens`` on, cut back to a
    word start so no word is cut in two, unless one word is longer than a whole window."""
    end = min(begin + max_tokens, len(word_start))
    if end < len(word_start):
        cut = end
        while cut > begin and not word_start[cut]:
            cut -= 1
        end = cut if cut > begin else end
    return end


def next_start(word_start: list[bool], begin: int, end: int, *, overlap: int, max_tokens: int) -> int:
    """Where the window after ``[begin, end)`` starts: the word start at or just before
    ``end - overlap`` (so consecutive windows share at least ``overlap`` tokens), provided the
    window from there reaches past ``end``; else the first word start after it that does; else
    ``end`` itself (no overlap).

    So every window covers new text: before a word too long to fit what is left of a window
    (a Markdown table's ``|------|`` rule is one "word" of a hundred tokens), windows do not
    creep forward a word at a time, each repeating the last.

    >>> starts = [True] * 10
    >>> next_start(starts, 0, end=5, overlap=2, max_tokens=5)
    3
    >>> next_start([True, True, True, False, True, True, True, True], 0, end=5, overlap=2, max_tokens=5)
    2
    >>> long_word = [True] * 7 + [False] * 5 + [True] * 3  # tokens 6 to 11 are one word
    >>> next_start(long_word, 0, end=6, overlap=2, max_tokens=6)
    6
    """
    back = max(end - overlap, begin + 1)
    while back > begin + 1 and not word_start[back]:
        back -= 1
    if back < end and word_start[back] and window_end(word_start, back, max_tokens) > end:
        return back
    for start in range(back + 1, end):
        if word_start[start] and window_end(word_start, start, max_tokens) > end:
            return start
    return end


def _tokens_of(tokenizer: Any, text: str) -> tuple[np.ndarray, np.ndarray]:
    """The token ids of ``text`` (no special tokens) and their character spans, as int32 arrays
    (a twelfth of the memory of Python lists: a batch of sources holds them until it is embedded)."""
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    ids = np.asarray(encoded["input_ids"], dtype=np.int32)
    return ids, np.asarray(encoded["offset_mapping"], dtype=np.int32).reshape(len(ids), 2)


def _text_of(window: list[tuple[int, int, int]], texts: list[str]) -> str:
    parts: list[str] = []
    current, first, last = window[0][0], window[0][1], window[0][2]
    for seg_index, start, end in window[1:]:
        if seg_index != current:
            parts.append(texts[current][first:last])
            current, first = seg_index, start
        last = end
    parts.append(texts[current][first:last])
    return "\n".join(p.strip() for p in parts if p.strip())
