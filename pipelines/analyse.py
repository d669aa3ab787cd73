"""The analyse stage: keywords, an extractive summary and a category for each source.

Nothing here writes text of its own: every keyword is a phrase of the source, every summary
sentence is copied verbatim from it, with its page or its seconds.

- **keywords**: the best phrases by TextRank (``rapid-textrank``: no model, a few milliseconds a
  page, stop words of the source's language); near-duplicates (the same lemmas) are dropped.
- **summary**: the most central sentences, in document order. A sentence's vector is the mean of
  the embedder's own token vectors over the sentence, taken from the pass that embeds the chunks
  (:func:`sentence_vectors`), so no text is encoded twice; only when every chunk of a source came
  from the vector cache are its sentences encoded (:func:`encode_sentences`). A sentence is
  central when it is close to the others: its similarity to the mean of all sentence vectors.
- **category**: the collection's label (:meth:`pipelines.store.Store.labels`) whose ``name:
  description`` is most similar to the source's vector (the normalised mean of its chunk
  vectors), with that similarity; none below ``Settings.category_min_similarity``.

Keywords and summary are cached by the source's extraction, the chunking (which names the
model) and the analysis settings, under ``home/cache/analyse``; the category is computed each
time from vectors, so changing the labels re-categorises a collection without embedding it again
(:func:`categorise`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.config import Settings
from pipelines.formats import storable
from pipelines.records import Extraction, Segment, Source, is_media

ANALYSER_VERSION = "2"
"""Changes whenever the same text and settings could be analysed differently."""
MIN_WORDS, MAX_WORDS = 4, 80
"""A summary sentence has this many words, at least and at most."""
FALLBACK_SENTENCES = 64
"""At most this many sentences are encoded for a source whose chunk vectors all came from the cache."""

_SENTENCE_END = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])[\"'\u201d\u2019)\]]*\s+|\n\s*\n")
_CLOSERS = "\"'\u201d\u2019)]"
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


@dataclass
class Sentence:
    """A sentence of a source, verbatim, with where it is."""

    text: str
    page: int | None = None
    start: float | None = None
    end: float | None = None


@dataclass
class Analysis:
    """What the analyse stage found in one source."""

    keywords: list[str] = field(default_factory=list)
    summary: list[Sentence] = field(default_factory=list)
    category: str | None = None
    category_score: float | None = None
    vector: np.ndarray | None = None
    """The source's vector: the normalised mean of its chunk vectors."""
    seconds: float = 0.0
    cached: bool = False


# --- sentences ----------------------------------------------------------------------------
def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` character spans of the sentences of ``text``, without the space around
    them. A sentence ends after ``.``, ``!`` or ``?`` (and a closing quote or bracket) followed by
    space, or at a blank line.

    >>> t = "It rains. Dr. Who? Yes!\\n\\nNext part"
    >>> [t[a:b] for a, b in sentence_spans(t)]
    ['It rains.', 'Dr.', 'Who?', 'Yes!', 'Next part']
    """
    spans: list[tuple[int, int]] = []
    begin = 0
    for match in [*_SENTENCE_END.finditer(text), None]:
        stop = len(text)
        if match is not None:  # closing quotes and brackets stay with their sentence
            gap = match.group(0)
            stop = match.start() + len(gap) - len(gap.lstrip(_CLOSERS))
        piece = text[begin:stop]
        left = len(piece) - len(piece.lstrip())
        right = len(piece.rstrip())
        if right > left:
            spans.append((begin + left, begin + right))
        begin = match.end() if match else len(text)
    return spans


def is_candidate(text: str) -> bool:
    """Whether a sentence may stand in a summary: enough words, not too many, mostly letters
    (not a formula, a table row or a list of numbers).

    >>> is_candidate("Cells divide by mitosis."), is_candidate("x1;y1) (x2;y2) f : X !Y 2X")
    (True, False)
    """
    words = len(text.split())
    if not MIN_WORDS <= words <= MAX_WORDS:
        return False
    visible = "".join(text.split())
    return len(_LETTER.findall(visible)) >= 0.8 * len(visible) and text.count("\n") <= 3


def source_sentences(segments: Sequence[Segment]) -> list[Sentence]:
    """The summary candidates of a source, in document order, each within one segment (a page
    or a stretch of speech), so each has one citation; a passage of fields has none."""
    found: list[Sentence] = []
    for segment in segments:
        if segment.fields:  # a document's fields (an e-mail's headers) summarise nothing
            continue
        for a, b in sentence_spans(segment.text):
            text = segment.text[a:b]
            if is_candidate(text):
                found.append(Sentence(text, page=segment.page, start=segment.start, end=segment.end))
    return found


def sentence_vectors(
    text: str, tokens: np.ndarray, offsets: Sequence[tuple[int, int]], wanted: set[str]
) -> dict[str, np.ndarray]:
    """Vectors of the sentences of one embedded ``text`` that are in ``wanted``: the mean of the
    model's token vectors over each sentence, normalised.

    ``tokens`` holds one row per token of the model's input (special tokens included) and
    ``offsets`` their character spans in ``text`` (``(0, 0)`` for special tokens).
    """
    found: dict[str, np.ndarray] = {}
    spans = [(a, b) for a, b in sentence_spans(text) if text[a:b] in wanted]
    if not spans:
        return found
    n = min(len(offsets), len(tokens))
    bounds = np.asarray(offsets[:n], dtype=np.int64).reshape(-1, 2)
    real = np.flatnonzero(bounds[:, 1] > bounds[:, 0])  # not [CLS], [SEP] or padding
    starts, ends = bounds[real, 0], bounds[real, 1]
    for a, b in spans:
        first = int(np.searchsorted(starts, a, side="left"))
        last = int(np.searchsorted(ends, b, side="right"))
        if last <= first:
            continue
        mean = tokens[real[first:last]].mean(axis=0)
        norm = float(np.linalg.norm(mean))
        if norm > 0:
            found.setdefault(text[a:b], (mean / norm).astype(np.float32))
    return found


def encode_sentences(sentences: list[Sentence], encode: Any) -> dict[str, np.ndarray]:
    """Vectors of up to :data:`FALLBACK_SENTENCES` sentences spread over the source, by
    ``encode(texts) -> matrix`` (the embedder's)."""
    texts = list(dict.fromkeys(s.text for s in sentences))
    if len(texts) > FALLBACK_SENTENCES:
        step = len(texts) / FALLBACK_SENTENCES
        texts = [texts[int(i * step)] for i in range(FALLBACK_SENTENCES)]
    if not texts:
        return {}
    return dict(zip(texts, np.asarray(encode(texts), dtype=np.float32), strict=True))


def summarise(sentences: list[Sentence], vectors: dict[str, np.ndarray], most: int) -> list[Sentence]:
    """The ``most`` (at most; 2 for a short source, 3 for a medium one) most central sentences,
    in document order. A sentence's centrality is the similarity of its vector to the mean of all
    the source's sentence vectors; a sentence that repeats one already chosen is skipped."""
    scored = [(i, s) for i, s in enumerate(sentences) if s.text in vectors]
    if not scored:
        return []
    matrix = np.stack([vectors[s.text] for _, s in scored])
    centre = matrix.mean(axis=0)
    centre /= max(float(np.linalg.norm(centre)), 1e-12)
    scores = matrix @ centre
    n = len({s.text for _, s in scored})
    want = min(most, 2 if n < 10 else 3 if n < 30 else 4)
    chosen: list[int] = []
    for k in np.argsort(-scores, kind="stable"):
        if len(chosen) >= want:
            break
        if any(scored[j][1].text == scored[k][1].text or float(matrix[j] @ matrix[k]) > 0.95 for j in chosen):
            continue
        chosen.append(int(k))
    return [scored[k][1] for k in sorted(chosen, key=lambda k: scored[k][0])]


# --- keywords -----------------------------------------------------------------------------
def keywords(text: str, language: str | None, top: int) -> list[str]:
    """The ``top`` phrases that best describe ``text`` (TextRank over words that are not stop
    words of ``language``; English stop words for a language it does not know), best first."""
    if not text.strip():
        return []
    result = _extractor(language or "en", top * 2).extract_keywords(text)
    chosen: list[str] = []
    seen: set[str] = set()
    for phrase in result.phrases:
        words = phrase.text.split()
        lemma = " ".join(str(phrase.lemma or phrase.text).lower().split())
        if lemma in seen or not _LETTER.search(phrase.text) or max(len(w) for w in words) < 3:
            continue
        seen.add(lemma)
        chosen.append(" ".join(words))
        if len(chosen) == top:
            break
    return chosen


SHORT_LIST_LANGUAGES = ("ja", "zh")
"""rapid-textrank's languages whose stop words are a short list of its own (44 and 43 words)."""


@functools.lru_cache(maxsize=64)
def _extractor(language: str, top_n: int) -> Any:
    """A TextRank extractor with the stop words of ``language``.

    rapid-textrank 0.1.4 builds its stop-word set from its word lists on every call (about 2 ms,
    more than the ranking of a page takes). Handed the list as extra stop words on top of a
    short built-in one (Japanese's), it builds that set from the list in a fifth of the time and
    finds the same phrases (``tests/pipelines/test_analyse.py`` checks that it still does)."""
    import rapid_textrank

    options: dict[str, Any] = {"top_n": top_n, "language": language, "max_phrase_length": 3}
    if language not in SHORT_LIST_LANGUAGES:
        options.update(language=SHORT_LIST_LANGUAGES[0], stopwords=rapid_textrank.get_stopwords(language))
    return rapid_textrank.BaseTextRank(config=rapid_textrank.TextRankConfig(**options))


def source_keywords(extraction: Extraction, settings: Settings) -> list[str]:
    """The keywords of a source's text (its passage of fields left out when it has other text)."""
    content = [s for s in extraction.segments if not s.fields] or extraction.segments
    return keywords("\n\n".join(s.text for s in content), extraction.language, settings.analyse_keywords)


def name_keywords(source: Source) -> list[str]:
    """The words of a source's title (or file name, without its extension), as one keyword
    phrase: what a file whose content has no words is about.

    >>> name_keywords(Source("/v/harbour-cam_2.mp4", "ab", "video", 10, "harbour-cam_2.mp4"))
    ['harbour cam 2']
    """
    name = source.title or Path(source.file).stem
    words = " ".join(re.sub(r"[_\-.]+", " ", name).split())
    return [words] if _LETTER.search(words) else []


# --- categories ---------------------------------------------------------------------------
def parse_label(text: str) -> tuple[str, str]:
    """``"name: description"`` as ``(name, description)``; the description may be empty.

    >>> parse_label("biology: cells, proteins, disease")
    ('biology', 'cells, proteins, disease')
    """
    name, _, description = text.partition(":")
    name, description = " ".join(name.split()), " ".join(description.split())
    if not name:
        raise ValueError(f"a label needs a name before its colon, e.g. 'biology: cells, proteins': {text!r}")
    if len(name) > 60:
        raise ValueError(f"a label's name is at most 60 characters: {name!r}")
    return name, description


def label_text(name: str, description: str) -> str:
    """The text a label is embedded as."""
    return f"{name}: {description}" if description else name


def source_vector(chunk_vectors: np.ndarray) -> np.ndarray | None:
    """A source's vector: the normalised mean of its chunk vectors."""
    if not len(chunk_vectors):
        return None
    mean = np.asarray(chunk_vectors, dtype=np.float32).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm).astype(np.float32) if norm > 0 else None


def categorise(
    vector: np.ndarray | None, names: list[str], label_vectors: np.ndarray, threshold: float
) -> tuple[str | None, float | None]:
    """The label most similar to ``vector`` and the similarity; ``(None, None)`` when there are
    no labels or no label reaches ``threshold``."""
    if vector is None or not names:
        return None, None
    scores = np.asarray(label_vectors, dtype=np.float32) @ np.asarray(vector, dtype=np.float32)
    best = int(np.argmax(scores))
    score = float(scores[best])
    return (names[best], round(score, 4)) if score >= threshold else (None, None)


# --- citations and storage ------------------------------------------------------------------
def cite(sentence: Sentence, file: str, kind: str) -> str:
    """A summary sentence's citation, written as a search hit's is."""
    from pipelines.search import citation

    return citation({
        "file": file, "kind": kind, "page_start": sentence.page, "page_end": sentence.page,
        "time_start": sentence.start, "time_end": sentence.end,
    })  # fmt: skip


def summary_rows(summary: list[Sentence], file: str, kind: str) -> list[dict[str, Any]]:
    """The summary as stored and shown: ``text``, ``page`` or ``start``/``end``, ``citation``."""
    rows = []
    for s in summary:
        where = {"start": s.start, "end": s.end} if is_media(kind) else {"page": s.page}
        rows.append({"text": s.text, **where, "citation": cite(s, file, kind)})
    return rows


def analysis_key(extraction: Extraction, settings: Settings) -> str:
    """The cache key of a source's keywords and summary."""
    from pipelines.cache import extraction_key
    from pipelines.embed import resolve_backend

    raw = json.dumps([
        extraction_key(extraction.source, settings), settings.chunking_key(),
        resolve_backend(settings.embed_backend),
        settings.analyse_keywords, settings.analyse_summary_sentences, ANALYSER_VERSION,
    ])  # fmt: skip
    return f"{extraction.source.source_id}-{hashlib.sha256(raw.encode()).hexdigest()[:12]}"


def _cache_path(settings: Settings, key: str) -> Path:
    return settings.cache_dir / "analyse" / key[:2] / f"{key}.json"


def load_cached(extraction: Extraction, settings: Settings) -> Analysis | None:
    """The cached keywords and summary of a source, or ``None`` (also for a damaged entry: it is
    made again and overwritten)."""
    try:
        data = json.loads(_cache_path(settings, analysis_key(extraction, settings)).read_text("utf-8"))
        return Analysis(
            keywords=[str(k) for k in data["keywords"]],
            summary=[Sentence(**s) for s in data["summary"]],
            cached=True,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_cached(extraction: Extraction, analysis: Analysis, settings: Settings) -> None:
    """Keep the keywords and summary of a source (written aside, then renamed into place)."""
    path = _cache_path(settings, analysis_key(extraction, settings))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
        fh.write(
            json.dumps({"keywords": analysis.keywords, "summary": [asdict(s) for s in analysis.summary]})
        )
    os.replace(tmp, path)


def forget(source_id: str, settings: Settings) -> int:
    """Drop every cached analysis of ``source_id``; how many there were."""
    entries = list((settings.cache_dir / "analyse" / source_id[:2]).glob(f"{source_id}-*.json"))
    for path in entries:
        path.unlink(missing_ok=True)
    return len(entries)


def analyse_text(
    extraction: Extraction,
    vectors: dict[str, np.ndarray],
    settings: Settings,
    encode: Any = None,
    sentences: list[Sentence] | None = None,
    words: list[str] | None = None,
) -> Analysis:
    """Keywords and summary of one source; ``vectors`` are the sentence vectors found while its
    chunks were embedded (``encode(texts)`` embeds sentences when there are none); ``sentences``
    its :func:`source_sentences` and ``words`` its :func:`source_keywords`, when known already."""
    started = time.perf_counter()
    cached = load_cached(extraction, settings)
    if cached is not None:
        cached.seconds = time.perf_counter() - started
        return cached
    if extraction.described:  # inlet's words, not the file's: only its name says what it is about
        analysis = Analysis(keywords=name_keywords(extraction.source), summary=[])
        save_cached(extraction, analysis, settings)
        analysis.seconds = time.perf_counter() - started
        return analysis
    if words is None:
        words = source_keywords(extraction, settings)
    if sentences is None:
        sentences = source_sentences(extraction.segments)
    if sentences and not any(s.text in vectors for s in sentences) and encode is not None:
        vectors = encode_sentences(sentences, encode)
    analysis = Analysis(
        keywords=words, summary=summarise(sentences, vectors, settings.analyse_summary_sentences)
    )
    save_cached(extraction, analysis, settings)
    analysis.seconds = time.perf_counter() - started
    return analysis


class SentencePool:
    """Collects sentence vectors from the token vectors of the chunks being embedded: pass it as
    ``on_tokens`` to :func:`pipelines.embed.embed_texts`. Only the sentences in ``wanted`` (the
    summary candidates of the sources to analyse) are kept."""

    def __init__(self, tokenizer: Any, wanted: set[str]) -> None:
        # the fast tokenizer's own engine: the same tokens, offsets included, a fraction of the cost
        self.tokenizer = getattr(tokenizer, "backend_tokenizer", None) or tokenizer
        self.wanted = wanted
        self.vectors: dict[str, np.ndarray] = {}
        self.seconds = 0.0
        """Time spent pooling (part of the analyse stage, though it runs while embedding)."""

    def __call__(
        self, text: str, tokens: np.ndarray, offsets: Sequence[tuple[int, int]] | None = None, /
    ) -> None:
        started = time.perf_counter()
        if offsets is None:  # the embedder had none at hand: tokenise the text again
            if hasattr(self.tokenizer, "encode_batch"):
                offsets = self.tokenizer.encode(text).offsets
            else:
                offsets = self.tokenizer(text, return_offsets_mapping=True, verbose=False)["offset_mapping"]
        for sentence, vector in sentence_vectors(text, tokens, offsets, self.wanted).items():
            self.vectors.setdefault(sentence, vector)
        self.seconds += time.perf_counter() - started


def stored(analysis: Analysis, file: str, kind: str) -> dict[str, Any]:
    """An analysis as the sources table keeps it (``pipelines.store.ANALYSIS_FIELDS``)."""
    return {
        "keywords": analysis.keywords,
        # a file name that is not UTF-8 is kept as the stores keep names (``\xNN``)
        "summary": json.dumps(summary_rows(analysis.summary, storable(file), kind), ensure_ascii=False),
        "category": analysis.category,
        "category_score": analysis.category_score,
        "source_vector": None if analysis.vector is None else analysis.vector.tolist(),
    }


def label_vectors(labels: list[tuple[str, str]], embed: Any) -> np.ndarray:
    """The vectors of a collection's labels, by ``embed(texts) -> matrix``."""
    return np.asarray(embed([label_text(n, d) for n, d in labels]), dtype=np.float32)


def recategorise(store: Any, collection: str, settings: Settings) -> dict[str, Any]:
    """Give every source of ``collection`` its category under the collection's current labels
    (none when it has none), from the source vectors kept in the sources table: nothing is
    embedded again but the labels. Sources ingested before the analyse stage existed (no source
    vector) keep no category. Returns ``{"collection", "labels", "sources", "categorised"}``."""
    from pipelines.embed import embed_texts, load_embedder
    from pipelines.store import VectorCache

    labels = store.labels(collection)
    rows = store.source_rows(collection)
    if "source_vector" not in rows.columns:
        return {"collection": collection, "labels": len(labels), "sources": rows.height, "categorised": 0}
    names = [name for name, _ in labels]
    matrix = np.zeros((0, 0), dtype=np.float32)
    if labels:
        embedder = load_embedder(store.collection_settings(collection, settings))  # the collection's model
        cache = VectorCache(store, embedder.dim)
        matrix = label_vectors(labels, lambda texts: embed_texts(texts, embedder, cache).vectors)
    updates = []
    for row in rows.select("source_id", "ingested_at", "source_vector").iter_rows(named=True):
        vector = None if row["source_vector"] is None else np.asarray(row["source_vector"], dtype=np.float32)
        category, score = categorise(vector, names, matrix, settings.category_min_similarity)
        updates.append({"source_id": row["source_id"], "ingested_at": row["ingested_at"],
                        "category": category, "category_score": score})  # fmt: skip
    store.set_categories(collection, updates)
    found = sum(1 for u in updates if u["category"] is not None)
    return {"collection": collection, "labels": len(labels), "sources": rows.height, "categorised": found}
