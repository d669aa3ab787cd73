"""Search over the chunks table: keyword, vector and hybrid retrieval, filters, suggestions.

- **Keyword** (``text``): LanceDB's native full-text index over ``text`` (stemmed, stop words
  removed, with positions so ``"a phrase"`` in double quotes is a phrase query; ``-word``
  excludes a word). A query word the index has never seen (a typo) is also looked up fuzzily
  in a second, unstemmed index over the copy ``text_plain`` (fuzzy matching compares against
  index terms, so it needs unstemmed ones): ``pipelnes`` finds ``pipelines``.
- **Vector**: exact cosine search over the chunk vectors, or the ANN index once the table is
  large enough to train one (``Settings.ann_min_rows``).
- **Hybrid**: both lists, fused by reciprocal rank (:func:`reciprocal_rank_fusion`).
- **Suggestions**: completions of a partial query from the indexed words and the titles of
  the sources, computed once per table version and collection (:func:`suggest`).

Filters become one ``where`` predicate built by :func:`pipelines.store.where` and
:func:`date_range`: whitelisted columns, every value a quoted literal.

This module owns search: the modes and which of them need a query vector
(:func:`needs_query_vector`, kept in :mod:`pipelines.search_modes` so that naming them loads
nothing), the hit columns and how a hit is cited (:func:`citation`), the
index names and keeping the indexes current (:func:`refresh`, :func:`needs_refresh`). The store
(:mod:`pipelines.store`) only holds the tables and knows nothing of search.
"""

from __future__ import annotations

import bisect
import heapq
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict, TypeGuard, cast

import numpy as np
import polars as pl

from pipelines import moments
from pipelines.formats import clock
from pipelines.highlight import STOP_WORDS, snippet
from pipelines.moments import Moment
from pipelines.search_modes import DEFAULT_MODE, MODES, QUERY_VECTOR_MODES, check_mode, needs_query_vector
from pipelines.store import CHUNKS, OCR_COLUMN, Store, run, sql_literal, where

if TYPE_CHECKING:
    import pyarrow as pa
    from lancedb.index import FTS
    from lancedb.query import FullTextQuery, Occur
    from lancedb.table import AsyncTable, Table

HYBRID_DEPTH = 50
"""Candidates a hybrid search takes from each half before fusing them. On SciFact (20 hits a
query) 50 ranked as well as 100 (nDCG@10 0.724 and 0.722; 30: 0.720) and takes a quarter less
time at 100,000 chunks."""
HIT_COLUMNS = [
    "chunk_id", "source_id", "file", "kind", "page_start", "page_end", "time_start",
    "time_end", "score", "text", "snippet", "collection", "citation", "category", "keywords",
]  # fmt: skip
ANALYSIS_HIT_COLUMNS = ("category", "keywords")
"""Hit columns taken from the hit's source (the analyse stage's), not from its chunk."""
TEXT_INDEX = "text_idx"
PLAIN_COLUMN = "text_plain"
PLAIN_INDEX = "text_plain_idx"
VECTOR_INDEX = "vector_idx"
FILTER_INDEXES = {"collection": "collection_idx", "kind": "kind_idx", "language": "language_idx"}
"""Bitmap indexes on the few-valued filter columns: a filtered search reads the matching rows'
positions from them instead of scanning the column (1,000,000 chunks, collection and kind:
raw LanceDB vector search 119 -> 17 ms, full text 138 -> 39 ms, built in under a second)."""
DATE_COLUMN = "created_at"
_STORED = [c for c in HIT_COLUMNS if c not in ("score", "snippet", "citation", *ANALYSIS_HIT_COLUMNS)]
_WORD = re.compile(r"\w+", re.UNICODE)


# --- the query ----------------------------------------------------------------------------
@dataclass
class ParsedQuery:
    """A user query: free words, ``"quoted phrases"`` and ``-excluded`` words."""

    words: str = ""
    phrases: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)

    @property
    def marked_text(self) -> str:
        """What the snippet should mark: words and phrases, not the excluded words."""
        return " ".join([self.words, *self.phrases])


_PHRASE = re.compile(r'"([^"]+)"')
_EXCLUDED = re.compile(r"(?:(?<=\s)|^)-(\w[\w'-]*)")


def parse_query(query: str) -> ParsedQuery:
    """Split ``query`` into free words, phrases (double quotes) and excluded words (``-word``).

    >>> parse_query('"brown fox" quick -lazy')
    ParsedQuery(words='quick', phrases=['brown fox'], excluded=['lazy'])
    """
    phrases = [p.strip() for p in _PHRASE.findall(query) if _WORD.search(p)]
    rest = _PHRASE.sub(" ", query)
    excluded = _EXCLUDED.findall(rest)
    rest = _EXCLUDED.sub(" ", rest).replace('"', " ")
    return ParsedQuery(words=" ".join(rest.split()), phrases=phrases, excluded=excluded)


def fuzziness(word: str) -> int:
    """Edits allowed for a word: none up to 3 letters, 1 up to 6, 2 beyond (as Lucene's AUTO)."""
    return 0 if len(word) <= 3 else 1 if len(word) <= 6 else 2


def unknown_words(words: str, vocabulary: Vocabulary | None) -> list[str]:
    """Content words of ``words`` the index has never seen: the ones worth a fuzzy lookup."""
    if vocabulary is None:
        return []
    found = []
    for w in _WORD.findall(words.lower()):
        if w not in STOP_WORDS and not w.isdigit() and fuzziness(w) and w not in vocabulary:
            found.append(w)
    return found


def text_query(parsed: ParsedQuery, typos: list[str], *, plain: bool) -> FullTextQuery | None:
    """The LanceDB full-text query for ``parsed``; ``None`` when nothing can match.

    Phrases must match (in order); free words should; excluded words must not; each typo
    adds a fuzzy match on the unstemmed column when there is one (``plain``).
    """
    from lancedb.query import BooleanQuery, Occur

    clauses: list[tuple[Occur, FullTextQuery]] = [(Occur.MUST, _phrase(p)) for p in parsed.phrases]
    if parsed.words:
        clauses.append((Occur.SHOULD, _match(parsed.words, "text")))
    if plain:
        clauses += [
            (Occur.SHOULD, _match(w, PLAIN_COLUMN, fuzziness=fuzziness(w), prefix_length=1)) for w in typos
        ]
    if not clauses:
        return None
    clauses += [(Occur.MUST_NOT, _match(w, "text")) for w in parsed.excluded]
    if len(clauses) == 1 and clauses[0][0] != Occur.MUST_NOT:
        return clauses[0][1]
    return BooleanQuery(clauses)


# LanceDB's query classes are pydantic dataclasses whose optional fields mypy (without the
# pydantic plugin) takes for required ones; these two wrappers keep that to one place each.
def _match(words: str, column: str, *, fuzziness: int = 0, prefix_length: int = 0) -> FullTextQuery:
    from lancedb.query import MatchQuery

    return MatchQuery(words, column, fuzziness=fuzziness, prefix_length=prefix_length)  # type: ignore[call-arg]


def _phrase(phrase: str) -> FullTextQuery:
    from lancedb.query import PhraseQuery

    return PhraseQuery(phrase, "text")  # type: ignore[call-arg]


# --- filters ------------------------------------------------------------------------------
def date_range(since: Moment | None, until: Moment | None) -> str | None:
    """A predicate on the chunks' ingestion time (``created_at``: when the version of the
    source they belong to was written), ``since`` and ``until`` both inclusive."""
    parts = []
    if since is not None:
        moment, _ = moments.bound(since)
        parts.append(f"`{DATE_COLUMN}` >= {sql_literal(moment)}")
    if until is not None:
        moment, inclusive = moments.bound(until, end=True)
        parts.append(f"`{DATE_COLUMN}` {'<=' if inclusive else '<'} {sql_literal(moment)}")
    return " AND ".join(parts) or None


def predicate(
    *,
    collection: str | Iterable[str] | None = None,
    kind: str | Iterable[str] | None = None,
    source_id: str | Iterable[str] | None = None,
    file: str | Iterable[str] | None = None,
    language: str | Iterable[str] | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
) -> str | None:
    """The ``where`` string for the search filters (each value, or list of values, literal)."""

    def norm(v: Any) -> Any:
        return v if v is None or isinstance(v, str) else list(v)

    parts = [
        where(
            collection=norm(collection),
            kind=norm(kind),
            source_id=norm(source_id),
            file=norm(file),
            language=norm(language),
        ),
        date_range(since, until),
    ]
    parts = [p for p in parts if p]
    return " AND ".join(f"({p})" for p in parts) or None


# --- retrieval ----------------------------------------------------------------------------
def index_names(table: Table) -> set[str]:
    return {i.name for i in table.list_indices()}


_indexes: dict[str, tuple[int, dict[str, str]]] = {}


def _index_types(key: str, table: Table, version: int) -> dict[str, str]:
    """The table's indexes, name -> type (``FTS``, ``IvfHnswSq``, ``IvfPq``), listed once per
    table version (an index is built or dropped only by a commit, which makes a new version)."""
    cached = _indexes.get(key)
    if cached and cached[0] == version:
        return cached[1]
    types = {i.name: str(i.index_type) for i in table.list_indices()}
    _indexes[key] = (version, types)
    return types


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _submit(fn: Callable[..., Any], *args: Any) -> Future[Any]:
    """Run ``fn`` on a search thread: the query is embedded there while this thread opens the
    table and parses the query, and the keyword half of a hybrid search runs there beside the
    vector half (both wait in native code, without the GIL)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="inlet-search")
    return _pool.submit(fn, *args)


QueryVector = np.ndarray | Callable[[], np.ndarray] | None
"""The embedded query, or a function that embeds it (called on a search thread, so that the
embedding overlaps the rest of the search), or ``None`` when the mode needs none."""


_ocr_columns: dict[str, tuple[int, bool]] = {}


def _has_ocr_column(key: str, table: Table, version: int) -> bool:
    """Whether the chunks table has :data:`OCR_COLUMN` (tables older than it lack it until
    their next write), looked up once per table version."""
    cached = _ocr_columns.get(key)
    if cached and cached[0] == version:
        return cached[1]
    present = OCR_COLUMN in table.schema.names
    _ocr_columns[key] = (version, present)
    return present


def vector_hits(
    table: AsyncTable,
    vector: np.ndarray | None,
    where_: str | None,
    limit: int,
    ann: bool | str,
    *,
    columns: list[str] | None = None,
) -> pl.DataFrame:
    """Nearest chunks by cosine; ``ann``: the type of the vector index (or False: exact).
    ``columns``: what to read of each hit (default: everything a hit shows) besides ``score``.
    ``table`` is the chunks table's reader (:meth:`Store.reader`), as for :func:`text_hits`."""
    if vector is None:
        raise ValueError("vector search needs a query vector")
    query = (
        table.query()
        .nearest_to(np.asarray(vector, dtype=np.float32))
        .column("vector")
        .distance_type("cosine")
    )
    if ann == "IvfPq":  # an index trained before IVF-HNSW-SQ: its codes need re-ranking
        query = query.nprobes(32).refine_factor(4)
    elif ann:  # the candidates ranked again by their full vectors, not the 8-bit ones
        query = query.refine_factor(1)
    if where_:
        query = query.where(where_)  # before the nearest are taken (a reader's default)
    frame = _read(query.limit(limit), columns, "_distance")
    return frame.with_columns((1 - pl.col("_distance")).cast(pl.Float64).alias("score")).drop("_distance")


def text_hits(
    table: AsyncTable,
    query: FullTextQuery | None,
    where_: str | None,
    limit: int,
    *,
    columns: list[str] | None = None,
) -> pl.DataFrame:
    """Best chunks by the full-text index; ``columns`` as in :func:`vector_hits`."""
    if query is None:
        return _empty_hits() if columns is None else pl.DataFrame(schema=_candidate_schema(columns))
    found = table.query().nearest_to_text(query)
    if where_:
        found = found.where(where_)
    frame = _read(found.limit(limit), columns, "_score")
    return frame.with_columns(pl.col("_score").cast(pl.Float64).alias("score")).drop("_score")


def _read(query: Any, columns: list[str] | None, score: str) -> pl.DataFrame:
    """``columns`` (default: those a hit shows) and the ``score`` column of a reader's query."""
    if columns is not None and ROW_ID in columns:
        query = query.with_row_id()
    wanted = [c for c in columns or _STORED if c != ROW_ID]
    return _frame(run(query.select([*wanted, score]).to_arrow()))


def _frame(table: pa.Table) -> pl.DataFrame:
    return cast(pl.DataFrame, pl.from_arrow(table))


ROW_ID = "_rowid"
_CANDIDATE = ["chunk_id", "source_id", "collection", ROW_ID]
"""What a hybrid search reads of each of its candidates: the fused list is cut to ``limit``
before the text and the rest of a hit are read, for those hits only; their sources' category
and keywords are read meanwhile."""


def _candidate_schema(columns: list[str]) -> dict[str, Any]:
    return {c: pl.UInt64 if c == ROW_ID else pl.Utf8 for c in columns} | {"score": pl.Float64}


def _fetch(table: AsyncTable, fused: pl.DataFrame, columns: list[str] | None = None) -> pl.DataFrame:
    """The stored ``columns`` (default: those of :data:`HIT_COLUMNS`) of the fused candidates,
    in their order, with their scores, from the chunks table's reader. Read by row id; should
    the table have changed in between (a compaction moves rows), by chunk id."""
    if fused.height == 0:
        return _empty_hits()
    columns = columns or _STORED
    ids = fused["chunk_id"].to_list()
    rows = _frame(run(table.take_row_ids(fused[ROW_ID].to_list()).select(columns).to_arrow()))
    if sorted(rows["chunk_id"].to_list()) != sorted(ids):
        listed = ", ".join(sql_literal(i) for i in ids)
        query = table.query().where(f"chunk_id IN ({listed})").select(columns).limit(len(ids))
        rows = _frame(run(query.to_arrow()))
    return fused.select("chunk_id", "score").join(rows, on="chunk_id", how="inner", maintain_order="left")


def reciprocal_rank_fusion(rankings: list[pl.DataFrame], *, limit: int, k: int = 60) -> pl.DataFrame:
    """Fuse ranked hit lists: each hit scores the sum of 1 / (k + rank) over the lists.

    >>> a = pl.DataFrame({"chunk_id": ["x", "y"], "score": [0.9, 0.5]})
    >>> reciprocal_rank_fusion([a, a.reverse()], limit=2)["chunk_id"].to_list()
    ['x', 'y']
    """
    scored = [
        r.with_row_index("rank", offset=1).with_columns((1.0 / (k + pl.col("rank"))).alias("rrf"))
        for r in rankings
        if r.height
    ]
    if not scored:
        return rankings[0]
    both = pl.concat([s.drop("score", "rank") for s in scored], how="vertical_relaxed")
    fused = both.group_by("chunk_id", maintain_order=True).agg(
        pl.exclude("rrf").first(), pl.col("rrf").sum().alias("score")
    )
    return fused.sort("score", descending=True, maintain_order=True).head(limit)


def _empty_hits() -> pl.DataFrame:
    return pl.DataFrame(schema={c: pl.List(pl.Utf8) if c == "keywords" else pl.Utf8 for c in HIT_COLUMNS})


def search(
    store: Store,
    query: str,
    query_vector: QueryVector,
    *,
    mode: str = DEFAULT_MODE,
    limit: int = 10,
    chunks_table: str = CHUNKS,
    **filters: Any,
) -> pl.DataFrame:
    """Best chunks for ``query`` in one chunks table (``chunks_table``: of collections whose models
    have one dimension; :func:`search_collections` searches every collection with its own
    model): one row per hit with :data:`HIT_COLUMNS`, best first.

    ``query_vector`` is the embedded query (or a function that embeds it, see
    :data:`QueryVector`), needed when :func:`needs_query_vector` says so for ``mode``
    (``None`` is fine for ``text``). ``filters``: ``collection``, ``kind``, ``source_id``,
    ``file``, ``language`` (a value or a list of values), ``since``, ``until`` (ingestion time;
    dates or ISO strings), ``category`` and ``keyword`` (sources whose analysis matches:
    :func:`analysed_predicate`). Each hit's ``citation`` is
    :func:`citation`; its ``category`` and ``keywords`` are its source's; snippets, citations
    and those are made for the returned hits only.

    Example:
        >>> search(Store(settings), "whales", embedder.encode_query("whales"), mode="hybrid")  # doctest: +SKIP
    """
    check_mode(mode)
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    if not query.strip():
        return _empty_hits()
    category, keyword = filters.pop("category", None), filters.pop("keyword", None)
    analysed = None
    if category is not None or keyword is not None:
        analysed = analysed_predicate(store, filters.get("collection"), category, keyword)
        if analysed is None:
            return _empty_hits()
    vector: Future[Any] | np.ndarray | None = query_vector if not callable(query_vector) else None
    if callable(query_vector) and mode in QUERY_VECTOR_MODES:
        vector = _submit(query_vector)  # embeds while the table is opened and the query parsed
    table = store.chunks(chunks_table)
    if table is None:
        return _empty_hits()
    reader = store.reader(chunks_table)
    if reader is None:
        return _empty_hits()
    where_ = predicate(**filters)
    if analysed is not None:
        where_ = f"({where_}) AND ({analysed})" if where_ else analysed
    version = table.version
    key = f"{store.uri}/{chunks_table}"
    names = _index_types(key, table, version)
    if mode != "vector" and TEXT_INDEX not in names:
        mode = "vector"  # nothing indexed for keywords yet
        if callable(query_vector) and vector is None:
            vector = _submit(query_vector)
    parsed = parse_query(query)
    typos: list[str] = []
    plain = PLAIN_INDEX in names
    if mode != "vector" and plain and parsed.words:
        vocab = _vocabulary(store, [table], filters.get("collection"), full=False)
        typos = unknown_words(parsed.words, vocab)
    ann = names.get(VECTOR_INDEX, False)
    ocr = _has_ocr_column(key, table, version)
    columns = [*_STORED, OCR_COLUMN] if ocr else _STORED
    analysis: Future[Analysis] | None = None
    if mode == "vector":
        frame = vector_hits(reader, _wait(vector), where_, limit, ann, columns=columns)
    elif mode == "text":
        frame = text_hits(reader, text_query(parsed, typos, plain=plain), where_, limit, columns=columns)
    else:
        depth = max(limit, HYBRID_DEPTH)
        words = text_query(parsed, typos, plain=plain)
        by_words = _submit(lambda: text_hits(reader, words, where_, depth, columns=_CANDIDATE))
        meanings = vector_hits(reader, _wait(vector), where_, depth, ann, columns=_CANDIDATE)
        fused = reciprocal_rank_fusion([meanings, by_words.result()], limit=limit)
        analysis = _submit(_analysis_of, store, fused)  # read while the hits are read
        frame = _fetch(reader, fused, columns)
    if frame.height == 0:
        return _empty_hits()
    if analysis is None:
        analysis = _submit(_analysis_of, store, frame)  # read while the snippets are made
    marked, fuzzy = parsed.marked_text or query, typos
    snippets = [snippet(t, marked, fuzzy=fuzzy) for t in frame["text"].to_list()]
    cited = [
        citation(hit) for hit in frame.select(_CITED + ([OCR_COLUMN] if ocr else [])).iter_rows(named=True)
    ]
    category, keywords = _analysis_columns(frame, analysis.result())
    frame = frame.with_columns(
        pl.Series("snippet", snippets, dtype=pl.Utf8), pl.Series("citation", cited, dtype=pl.Utf8),
        category, keywords,
    )  # fmt: skip
    return frame.select(HIT_COLUMNS).sort("score", descending=True, maintain_order=True)


SearchGroup = tuple[str, str, str | list[str] | None]
"""``(model, chunks table, collection filter)``: collections searched together, with one model."""


def search_groups(store: Store, collection: str | None = None) -> list[SearchGroup]:
    """How a search of ``collection`` (``None``: every collection) is made: one group when the
    collections searched share one embedding model (the filter is then ``collection`` itself),
    else one group per model and chunks table, each naming its collections."""
    from pipelines.embed import canonical_model

    default = canonical_model(store.settings.embed_model)
    recorded = store.recorded_models()
    if collection is not None:
        # a collection with no recorded model (not made yet, or made before models were
        # recorded) is in ``chunks`` with the default model
        found = recorded.get(collection)
        return [(found.model, found.table, collection) if found else (default, CHUNKS, collection)]
    if all((found.model, found.table) == (default, CHUNKS) for found in recorded.values()):
        # a collection with no recorded model is in ``chunks`` with the default model too: one
        # group, whatever the sources table holds (listing its collections costs a search more
        # than the search itself on a large table)
        return [(default, CHUNKS, None)]
    groups: dict[tuple[str, str], list[str]] = {}
    for name, found in store.collection_models().items():
        groups.setdefault((found.model, found.table), []).append(name)
    if len(groups) <= 1:
        ((model, table),) = groups or [(default, CHUNKS)]
        return [(model, table, None)]
    return [(model, table, sorted(names)) for (model, table), names in sorted(groups.items())]


def search_collections(
    store: Store,
    query: str,
    vector_for: Callable[[str], QueryVector],
    *,
    mode: str = DEFAULT_MODE,
    limit: int = 10,
    collection: str | None = None,
    **filters: Any,
) -> pl.DataFrame:
    """:func:`search` of ``collection`` (``None``: every collection), each collection with the
    embedding model it was made with: ``vector_for(model)`` gives the query's vector under a
    model (a function that embeds it, as :data:`QueryVector`).

    Collections of one model are searched together, as :func:`search` does. When the collections
    searched were made with several models, each model's collections are searched with their
    model and the rankings are interleaved by reciprocal rank (a hit's place in its own ranking),
    not by score: scores of two models are not on one scale. Each hit keeps its own ``score``.
    """
    groups = search_groups(store, collection)
    if len(groups) == 1:
        model, table, only = groups[0]
        vector = vector_for(model) if needs_query_vector(mode) else None
        return search(
            store, query, vector, mode=mode, limit=limit, chunks_table=table, collection=only, **filters
        )
    ranked = []
    for model, table, only in groups:
        vector = vector_for(model) if needs_query_vector(mode) else None
        frame = search(
            store, query, vector, mode=mode, limit=limit, chunks_table=table, collection=only, **filters
        )
        if frame.height:
            ranked.append(frame.with_columns((1.0 / (60 + pl.int_range(1, frame.height + 1))).alias("_rrf")))
    if not ranked:
        return _empty_hits()
    merged = pl.concat(ranked, how="vertical_relaxed")
    return merged.sort(["_rrf", "score"], descending=True).head(limit).select(HIT_COLUMNS)


def analysed_predicate(
    store: Store, collection: str | Iterable[str] | None, category: str | None, keyword: str | None
) -> str | None:
    """The ``where`` string for the ``category`` and ``keyword`` filters: the chunks of the
    matching sources, each in the collection where it matches; ``None`` when none matches."""
    by_collection: dict[str, list[str]] = {}
    for name, source_id in store.analysed_sources(collection, category=category, keyword=keyword):
        by_collection.setdefault(name, []).append(source_id)
    if not by_collection:
        return None
    return " OR ".join(
        f"({where(collection=name, source_id=ids)})" for name, ids in sorted(by_collection.items())
    )


Analysis = dict[tuple[str, str], tuple[str | None, list[str]]]


def _analysis_of(store: Store, frame: pl.DataFrame) -> Analysis:
    """``(category, keywords)`` of the sources of ``frame``'s hits, by (collection, source id)."""
    return store.analysis_of(
        sorted(set(zip(frame["collection"].to_list(), frame["source_id"].to_list(), strict=True)))
    )


def _analysis_columns(frame: pl.DataFrame, found: Analysis) -> tuple[pl.Series, pl.Series]:
    """The ``category`` and ``keywords`` columns of ``frame``'s hits: those of each hit's source
    (in its collection), from ``found`` (:func:`_analysis_of`)."""
    pairs = list(zip(frame["collection"].to_list(), frame["source_id"].to_list(), strict=True))
    return (
        pl.Series("category", [found.get(p, (None, None))[0] for p in pairs], dtype=pl.Utf8),
        pl.Series("keywords", [found.get(p, (None, None))[1] for p in pairs], dtype=pl.List(pl.Utf8)),
    )


def _wait(vector: Future[Any] | np.ndarray | None) -> np.ndarray | None:
    return vector.result() if isinstance(vector, Future) else vector


# --- citations ----------------------------------------------------------------------------
_CITED = ["file", "kind", "page_start", "page_end", "time_start", "time_end"]
_PART_WORDS = {
    "epub": ("ch.", "ch."),
    "pptx": ("slide", "slides"),
    "xlsx": ("sheet", "sheets"),
    "ods": ("sheet", "sheets"),
    "odp": ("slide", "slides"),
    "email": ("message", "messages"),
}
"""What a kind's numbered parts are called in a citation, one and several (default: pages)."""
_DASH = "\N{EN DASH}"


def _known(value: object) -> TypeGuard[float | int]:
    return isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value))


def citation(hit: Mapping[str, Any]) -> str:
    """How a hit is cited: its file, then its page or pages (an e-book's chapters), or its time
    span in a recording; a range takes an en dash. Text read by OCR says so, with the lowest
    confidence of that text. Every hit of :func:`search` carries it in its ``citation`` column.

    >>> citation({"file": "d.pdf", "page_start": 2, "page_end": 3})
    'd.pdf, pp. 2–3'
    >>> citation({"file": "b.epub", "kind": "epub", "page_start": 4, "page_end": 4})
    'b.epub, ch. 4'
    >>> citation({"file": "a.wav", "time_start": 7.5, "time_end": 15.5})
    'a.wav, 00:07.5–00:15.5'
    >>> citation({"file": "scan.pdf", "page_start": 2, "page_end": 2, "ocr_confidence": 91.4})
    'scan.pdf, p. 2 (OCR, 91 % confidence)'
    >>> citation({"file": "photo.png", "kind": "image", "ocr_confidence": 88.0})
    'photo.png (OCR, 88 % confidence)'
    """
    cited = _place(hit)
    confidence = hit.get(OCR_COLUMN)
    if _known(confidence):
        cited += f" (OCR, {round(float(confidence))} % confidence)"
    return cited


def part(kind: str | None, start: int, end: int | None = None) -> str:
    """A page or a page range of a source of ``kind`` as citations write it (an e-book's
    chapters are ``ch.``).

    >>> part("pdf", 3), part("pdf", 3, 4), part("epub", 2)
    ('p. 3', 'pp. 3–4', 'ch. 2')
    """
    one, several = _PART_WORDS.get(str(kind), ("p.", "pp."))
    last = start if end is None else end
    return f"{one} {start}" if last == start else f"{several} {start}{_DASH}{last}"


def _place(hit: Mapping[str, Any]) -> str:
    start, end = hit.get("page_start"), hit.get("page_end")
    if _known(start):
        where_ = part(hit.get("kind"), int(start), int(end) if _known(end) else None)
    elif _known(hit.get("time_start")):
        where_ = f"{clock(hit['time_start'])}{_DASH}{clock(hit.get('time_end'))}"
    else:
        return str(hit["file"])
    return f"{hit['file']}, {where_}"


# --- vocabulary and suggestions -----------------------------------------------------------
@dataclass
class Vocabulary:
    """The indexed words (lower case, with their counts), the word pairs that follow each
    other (``"white matter"``), and the titles of one collection."""

    words: list[str]
    counts: list[int]
    titles: list[str]
    pairs: list[str] = field(default_factory=list)
    pair_counts: list[int] = field(default_factory=list)
    _known: frozenset[str] = field(default=frozenset(), repr=False)
    _titles: list[tuple[str, str]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._known = frozenset(self.words)
        self._titles = sorted((t.lower(), t) for t in self.titles)

    def __contains__(self, word: object) -> bool:
        return word in self._known

    @staticmethod
    def _best(keys: list[str], counts: list[int], prefix: str, limit: int) -> list[str]:
        lo = bisect.bisect_left(keys, prefix)
        hi = bisect.bisect_left(keys, prefix + "\U0010ffff")
        best = heapq.nlargest(limit + 1, range(lo, hi), key=counts.__getitem__)
        return [keys[i] for i in best if keys[i] != prefix][:limit]

    def completions(self, partial: str, limit: int, previous: str | None = None) -> list[str]:
        """The most frequent words starting with ``partial`` (other than itself): first those
        that follow ``previous`` in the text, then the others."""
        out: dict[str, None] = {}
        if previous:
            for pair in self._best(self.pairs, self.pair_counts, f"{previous} {partial}", limit):
                out.setdefault(pair.split(" ", 1)[1], None)
        if partial:
            for word in self._best(self.words, self.counts, partial, limit):
                out.setdefault(word, None)
        return list(out)[:limit]

    def titles_starting(self, prefix: str, limit: int) -> list[str]:
        """Titles that start with ``prefix`` (any case), longer than it."""
        lo = bisect.bisect_left(self._titles, (prefix,))
        found: list[str] = []
        for lowered, title in self._titles[lo : lo + 50]:
            if not lowered.startswith(prefix) or len(found) >= limit:
                break
            if lowered != prefix:
                found.append(title)
        return found


_TITLE_MAX = 160
_vocabularies: dict[tuple[Any, ...], tuple[tuple[int, ...], Vocabulary]] = {}
_vocabulary_lock = threading.Lock()


def build_vocabulary(frame: pl.DataFrame, *, full: bool = True) -> Vocabulary:
    """Words and titles from chunk rows (``text``, ``file``, ``chunk_index``); word pairs and
    titles only when ``full`` (suggestions need them, the typo check does not).

    A title is a source's file name without its extension, and the first line of its first
    chunk when that line is short (a document's title line).
    """
    words = (
        frame.lazy()
        .with_row_index("row")
        .select("row", pl.col("text").str.to_lowercase().str.extract_all(r"\w+").alias("w"))
        .explode("w")
        .filter(pl.col("w").str.len_chars().is_between(2, 40) & ~pl.col("w").str.contains(r"^[\d_]+$"))
        .with_columns(
            pl.when(pl.col("row").shift(-1) == pl.col("row")).then(pl.col("w").shift(-1)).alias("next")
        )
    )
    tokens = words.group_by("w").len().sort("w").collect()
    if not full:
        return Vocabulary(words=tokens["w"].to_list(), counts=tokens["len"].to_list(), titles=[])
    pairs = (
        words.filter(pl.col("next").is_not_null())
        .group_by(pl.concat_str("w", "next", separator=" ").alias("p"))
        .len()
        .filter(pl.col("len") >= 2)
        .sort("p")
        .collect()
    )
    firsts = frame.filter(pl.col("chunk_index") == 0)
    titles: dict[str, None] = {}
    for name, text in zip(firsts["file"].to_list(), firsts["text"].to_list(), strict=True):
        line = (text or "").strip().split("\n", 1)[0].strip()
        if "\n" in (text or "").strip() and 3 <= len(line) <= _TITLE_MAX:
            titles.setdefault(line, None)
        stem = re.sub(r"[_\s]+", " ", (name or "").rsplit(".", 1)[0]).strip()
        if len(stem) >= 3 and not stem.isdigit():
            titles.setdefault(stem, None)
    return Vocabulary(
        words=tokens["w"].to_list(),
        counts=tokens["len"].to_list(),
        titles=list(titles),
        pairs=pairs["p"].to_list(),
        pair_counts=pairs["len"].to_list(),
    )


def vocabulary(store: Store, collection: str | None = None, *, full: bool = True) -> Vocabulary | None:
    """The vocabulary of ``collection`` (all collections for ``None``), cached per table version
    (see :func:`build_vocabulary` for ``full``)."""
    tables = store._chunks_of(collection)
    if not tables:
        return None
    return _vocabulary(store, tables, collection, full=full)


def _vocabulary(
    store: Store, tables: list[Table], collection: str | Iterable[str] | None, *, full: bool
) -> Vocabulary:
    """The vocabulary of ``collection`` over ``tables``, cached per version of the tables."""
    scope = collection if collection is None or isinstance(collection, str) else tuple(sorted(collection))
    key = (store.uri, tuple(t.name for t in tables), scope, full)
    version = tuple(t.version for t in tables)
    cached = _vocabularies.get(key)
    if cached and cached[0] == version:
        return cached[1]
    with _vocabulary_lock:
        cached = _vocabularies.get(key)
        if cached and cached[0] == version:
            return cached[1]
        frames = []
        for table in tables:
            query = table.search().select(["text", "file", "chunk_index"])
            only = where(collection=scope if scope is None or isinstance(scope, str) else list(scope))
            if only:
                query = query.where(only)
            frames.append(query.limit(None).to_polars())
        vocab = build_vocabulary(pl.concat(frames), full=full)
        _vocabularies[key] = (version, vocab)
        return vocab


def suggest(store: Store, prefix: str, *, collection: str | None = None, limit: int = 8) -> list[str]:
    """Completions of ``prefix``: titles that start with it, then the prefix with its last
    (partial) word completed by the indexed words that start with it: first those that follow
    the word before it in the text, then the most frequent.

    >>> suggest(store, "ocean acid")  # doctest: +SKIP
    ['Ocean acidification and coral reefs', 'ocean acidification', 'ocean acidic']
    """
    if limit < 1 or not prefix.strip():
        return []
    vocab = vocabulary(store, collection)
    if vocab is None:
        return []
    lowered = " ".join(prefix.lower().split())
    out: dict[str, None] = {}
    if len(lowered) >= 2:
        out.update(dict.fromkeys(vocab.titles_starting(lowered, max(1, limit // 2))))
    head, partial = _split_last(prefix)
    before = re.findall(r"\w+", head.lower())
    if partial or before:  # "breast cancer " -> the words that follow "cancer"
        for word in vocab.completions(partial.lower(), limit, previous=before[-1] if before else None):
            out.setdefault(head + word, None)
    return list(out)[:limit]


def _split_last(prefix: str) -> tuple[str, str]:
    """(everything before the last word, the last word) of a partial query; the last word is
    empty when the prefix ends in a space."""
    match = re.search(r"\w+$", prefix)
    if not match:
        return prefix, ""
    return prefix[: match.start()], match.group()


# --- indexes ------------------------------------------------------------------------------
def ensure_plain_column(table: Table) -> bool:
    """Add the unstemmed copy of ``text`` to a table made before it existed; True if added."""
    if PLAIN_COLUMN in table.schema.names:
        return False
    table.add_columns({PLAIN_COLUMN: "text"})
    return True


def _fts_configs() -> dict[str, tuple[str, FTS]]:
    from lancedb.index import FTS

    return {
        TEXT_INDEX: ("text", FTS(with_position=True)),
        PLAIN_INDEX: (PLAIN_COLUMN, FTS(stem=False, remove_stop_words=False, with_position=False)),
    }


def build_ann_index(table: Table, rows: int) -> None:
    """Train an IVF-HNSW-SQ index (cosine) on the vectors: about sqrt(rows) / 4 partitions,
    each an HNSW graph over 8-bit scalar-quantised vectors.

    Measured on the 100,000-chunk table of ``bench/search_latency.py`` (real vectors repeated
    with noise, a hard case: many near-copies), 40 SciFact queries: recall@10 against exact
    search 0.87 (IVF-PQ with 32 probes and refine factor 4, the index before it: 0.48),
    recall@100 0.93 (0.94), at the same latency. Searches rank its candidates again by their
    full vectors (refine factor 1): on SciFact with the index forced (``ann_min_rows=256``,
    ``bench/search_eval.py --queries 100 --docs 1500``) nDCG@10 is then the exact search's
    (vector 0.8047, hybrid 0.8583; without it 0.8010 and 0.8554).
    """
    from lancedb.index import IvfHnswSq

    partitions = max(1, int(rows**0.5) // 4)
    table.create_index("vector", config=IvfHnswSq(distance_type="cosine", num_partitions=partitions),
                       replace=True, name=VECTOR_INDEX)  # fmt: skip


class RefreshReport(TypedDict):
    """What :func:`refresh` did."""

    rows: int
    """Chunks in the table."""
    rebuilt: list[str]
    """Names of the search indexes (full text, vector) built (or trained) anew."""
    filters: list[str]
    """Names of the filter indexes (:data:`FILTER_INDEXES`) built anew."""
    ann: bool
    """Whether vector search uses the ANN index (else exact search)."""
    seconds: float


def refresh(store: Store, *, rebuild: bool = False) -> RefreshReport:
    """Bring the chunk indexes up to date; with ``rebuild``, build them all again.

    Without ``rebuild``: missing full-text and filter indexes are built, new rows are folded
    into the existing ones (``optimize``), and the ANN index is trained once the table reaches
    ``ann_min_rows`` (and trained again when the table has doubled since). Readers keep the
    indexes of the version they opened until the new ones are committed, so searches go on
    answering meanwhile.
    """
    started = time.perf_counter()
    report = RefreshReport(rows=0, rebuilt=[], filters=[], ann=False, seconds=0.0)
    for name in store.chunk_tables():  # one per vector length (collections of other models)
        table = store.chunks(name)
        if table is not None:
            _refresh_table(store, table, rebuild, report)
    report["seconds"] = time.perf_counter() - started
    return report


def _refresh_table(store: Store, table: Table, rebuild: bool, report: RefreshReport) -> None:
    """:func:`refresh` of one chunks table, adding what it did to ``report``."""

    def done(names: list[str], name: str) -> None:
        if name not in names:
            names.append(name)

    ensure_plain_column(table)
    rows = int(table.count_rows())
    names = index_names(table)
    if not rebuild and names:
        table.optimize()
    for name, (column, config) in _fts_configs().items():
        if rebuild or name not in names:
            table.create_index(column, config=config, replace=True, name=name)
            done(report["rebuilt"], name)
    for column, name in FILTER_INDEXES.items():
        if rebuild or name not in names:
            table.create_scalar_index(column, index_type="BITMAP", replace=True, name=name)
            done(report["filters"], name)
    threshold = store.settings.ann_min_rows
    if rows >= threshold:
        stats = table.index_stats(VECTOR_INDEX) if VECTOR_INDEX in names else None
        indexed = stats.num_indexed_rows if stats else 0
        if rebuild or VECTOR_INDEX not in names or rows >= 2 * indexed:
            build_ann_index(table, rows)
            done(report["rebuilt"], VECTOR_INDEX)
        report["ann"] = True
    elif VECTOR_INDEX in names:
        table.drop_index(VECTOR_INDEX)  # too small now: exact search is better and fast
    report["rows"] += rows


def needs_refresh(store: Store) -> bool:
    """True when a chunks table has rows but a full-text index is missing or has rows not
    folded in yet (for example after a job was killed between its last write and its refresh)."""
    for name in store.chunk_tables():
        table = store.chunks(name)
        if table is None or table.count_rows() == 0:
            continue
        names = index_names(table)
        if any(name not in names for name in _fts_configs()):
            return True
        stats = [table.index_stats(name) for name in _fts_configs()]
        if any(s is None or s.num_unindexed_rows for s in stats):
            return True
    return False


__all__ = [
    "DEFAULT_MODE",
    "HIT_COLUMNS",
    "MODES",
    "ParsedQuery",
    "QueryVector",
    "RefreshReport",
    "Vocabulary",
    "check_mode",
    "citation",
    "clock",
    "date_range",
    "needs_query_vector",
    "needs_refresh",
    "parse_query",
    "predicate",
    "reciprocal_rank_fusion",
    "refresh",
    "search",
    "search_collections",
    "search_groups",
    "suggest",
    "vocabulary",
]
