"""Search on real text (SciFact abstracts): typos, phrases, filters, hostile values, suggestions,
reindexing under load, the analytics row each search leaves; which modes need a query vector,
how a hit is cited, and that search has one owner (``pipelines.search``, not the store)."""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import inspect
import json
import re
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import inlet
from pipelines import analytics
from pipelines import store as store_module
from pipelines.config import Settings, get_settings
from pipelines.index import index_sources
from pipelines.records import Extraction, Segment, Source
from pipelines.search import (
    HIT_COLUMNS,
    MODES,
    VECTOR_INDEX,
    citation,
    needs_query_vector,
    parse_query,
    predicate,
    refresh,
    search,
    suggest,
)
from pipelines.store import Store

N_DOCS = 60


def _abstracts(shared: Path, n: int) -> list[dict]:
    rows = []
    with (shared / "retrieval" / "scifact" / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            rows.append(json.loads(line))
            if len(rows) == n:
                break
    return rows


def _extraction(name: str, text: str, *, kind: str = "text", language: str | None = "en") -> Extraction:
    source_id = hashlib.sha256(f"{name}\0{text}".encode()).hexdigest()
    source = Source(path=f"/corpus/{name}", source_id=source_id, kind=kind, size=len(text), file=name)
    return Extraction(
        source=source, segments=[Segment(text=text, page=1 if kind == "pdf" else None)], language=language
    )


@pytest.fixture(scope="module")
def corpus(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[str, str]]:
    """60 real abstracts (title, blank line, text) in collection ``sci``; returns the settings
    and the text of each file."""
    settings = get_settings(home=tmp_path_factory.mktemp("search-home"))
    docs = {
        f"{r['_id']}.txt": f"{r['title'].strip()}\n\n{r['text'].strip()}" for r in _abstracts(shared, N_DOCS)
    }
    result = index_sources([_extraction(n, t) for n, t in docs.items()], collection="sci", settings=settings)
    assert not [s for s in result.sources if s.error]
    refresh(Store(settings))
    return settings, docs


def _search(settings: Settings, query: str, mode: str = "text", **kw: object):  # noqa: ANN202
    return inlet.search(query, mode=mode, settings=settings, **kw)


def test_misspelt_words_still_find_the_passage(corpus: tuple[Settings, dict[str, str]]) -> None:
    settings, docs = corpus
    # 4983.txt: "Microstructural development of human newborn cerebral white matter assessed in vivo
    # by diffusion tensor magnetic resonance imaging." Three words misspelt.
    query = "microstructral developmnt of cerebal white matter"
    for mode in ("text", "hybrid"):
        hits = _search(settings, query, mode)
        assert hits["file"][0] == "4983.txt", (mode, hits["file"].to_list()[:5])
    snippet = _search(settings, query, "text")["snippet"][0]
    assert "**Microstructural**" in snippet and "**cerebral**" in snippet  # the typos are marked too


def test_exact_phrase_ranks_its_passage_first(corpus: tuple[Settings, dict[str, str]]) -> None:
    settings, docs = corpus
    # Each word is common in the corpus; the phrase, in this order, is in one abstract only.
    phrase = "cell specific expression"
    words = phrase.split()
    tokens = {n: re.findall(r"\w+", t.lower()) for n, t in docs.items()}
    holders = [n for n, ts in tokens.items() if any(ts[i : i + 3] == words for i in range(len(ts)))]
    assert len(holders) == 1
    assert all(sum(w in ts for ts in tokens.values()) >= 10 for w in words)
    hits = _search(settings, f'"{phrase}"', "text")
    assert hits["file"][0] == holders[0]
    assert "**cell**-**specific** **expression**" in hits["snippet"][0].lower()
    # Without quotes the same words match many abstracts.
    assert _search(settings, phrase, "text", limit=20).height > 1


def test_excluded_word_drops_its_passages(corpus: tuple[Settings, dict[str, str]]) -> None:
    settings, _ = corpus
    with_mice = _search(settings, "mice tumor", "text", limit=50)
    assert with_mice["text"].str.to_lowercase().str.contains("mice").any()
    without = _search(settings, "tumor -mice", "text", limit=50)
    assert without.height > 0 and not without["text"].str.to_lowercase().str.contains(r"\bmice\b").any()


def test_filters_exclude_what_they_should(shared: Path) -> None:
    settings = get_settings()
    rows = _abstracts(shared, 6)
    first = [_extraction(f"{r['_id']}.txt", f"{r['title']}\n\n{r['text']}") for r in rows[:3]]
    index_sources(first, collection="old", settings=settings)
    time.sleep(0.05)
    cut = dt.datetime.now(dt.UTC)
    time.sleep(0.05)
    later = [
        _extraction(f"{rows[3]['_id']}.pdf", rows[3]["text"], kind="pdf", language="en"),
        _extraction(f"{rows[4]['_id']}.txt", rows[4]["text"], language="de"),
        _extraction(f"{rows[5]['_id']}.txt", rows[5]["text"]),
    ]
    index_sources(later, collection="new", settings=settings)
    refresh(Store(settings))
    names = {e.source.file for e in first + later}
    for mode in ("vector", "text", "hybrid"):
        q = "the"  # every abstract has it; in text mode a stop word, so ask for a common word too
        q = "of the study in patients cells" if mode != "vector" else q

        def files(**kw: object) -> set[str]:
            return set(_search(settings, q, mode, limit=50, **kw)["file"])  # noqa: B023

        assert files() == names, mode
        assert files(collection="old") == {e.source.file for e in first}
        assert files(kind="pdf") == {later[0].source.file}
        assert files(kind=["pdf", "text"], collection="new") == {e.source.file for e in later}
        assert files(language="de") == {later[1].source.file}
        assert files(file=later[2].source.file) == {later[2].source.file}
        assert files(source=first[0].source.source_id) == {first[0].source.file}
        assert files(since=cut) == {e.source.file for e in later}
        assert files(until=cut) == {e.source.file for e in first}
        assert files(since=dt.date.today().isoformat()) == names  # a date: the whole day
        assert files(until=(dt.date.today() - dt.timedelta(days=1)).isoformat()) == set()
        pdf = _search(settings, q, mode, kind="pdf")
        assert set(pdf["citation"]) == {f"{later[0].source.file}, p. 1"}  # a PDF's page
    with pytest.raises(ValueError, match="ISO date"):
        _search(settings, "cells", since="last tuesday")


def test_quotes_and_sql_in_values_are_searched_literally(embedder) -> None:  # noqa: ANN001
    settings = get_settings()
    hostile = "o'brien'); DROP TABLE chunks; --.txt"
    texts = {
        hostile: "Mr O'Brien's notes: the table was dropped off at the lab; DROP TABLE chunks was written on it.",
        "plain.txt": "A plain note about laboratory tables and chairs.",
    }
    index_sources([_extraction(n, t) for n, t in texts.items()], collection="x' OR '1'='1", settings=settings)
    refresh(Store(settings))
    for mode in ("vector", "text", "hybrid"):
        # A filter value with quotes and SQL matches exactly that value, nothing more.
        assert set(_search(settings, "notes table", mode, file=hostile)["file"]) == {hostile}
        assert set(_search(settings, "notes table", mode, collection="x' OR '1'='1")["file"]) == set(texts)
        assert _search(settings, "notes table", mode, collection="x").height == 0
        assert _search(settings, "notes table", mode, file="plain.txt' OR '1'='1").height == 0
    # A query with quotes and SQL is text to look for, not a statement.
    hits = _search(settings, "O'Brien's notes'; DROP TABLE chunks; --", "text")
    assert hits["file"][0] == hostile
    assert Store(settings).count_chunks() == 2
    assert predicate(file="a'b") == "(`file` = 'a''b')"


def test_parse_query_reads_phrases_and_exclusions() -> None:
    parsed = parse_query('"white matter" newborn -mice pre-term')
    assert parsed.phrases == ["white matter"] and parsed.excluded == ["mice"]
    assert parsed.words == "newborn pre-term"


def test_suggestions_complete_words_and_titles(corpus: tuple[Settings, dict[str, str]]) -> None:
    settings, docs = corpus
    store = Store(settings)
    words = suggest(store, "white mat")
    assert "white matter" in words
    assert all(w.startswith("white mat") for w in words)
    title = docs["4983.txt"].split("\n", 1)[0]
    assert title in inlet.suggest("Microstructural dev", settings=settings)
    assert inlet.suggest("zzqx", settings=settings) == []
    assert inlet.suggest("white mat", collection="elsewhere", settings=settings) == []
    started = time.perf_counter()
    for _ in range(50):
        suggest(store, "cere")
    assert (time.perf_counter() - started) / 50 < 0.05  # cached per table version: type-ahead speed


def test_each_search_is_recorded(corpus: tuple[Settings, dict[str, str]]) -> None:
    settings, _ = corpus
    inlet.search("white matter", mode="text", collection="sci", kind="text", settings=settings)
    inlet.search("qqqzzz", mode="text", settings=settings)
    rows = analytics.query(settings, 'SELECT * FROM searches ORDER BY "at"').tail(2).to_dicts()
    assert rows[0]["query"] == "white matter" and rows[0]["mode"] == "text"
    assert rows[0]["collection"] == "sci" and json.loads(rows[0]["filters"])["kind"] == "text"
    assert rows[0]["results"] > 0 and rows[0]["latency_ms"] > 0
    assert rows[1]["results"] == 0  # a query with no result is recorded too


@pytest.mark.slow
def test_reindex_builds_ann_and_search_keeps_answering(shared: Path, tmp_path: Path) -> None:
    # ann_min_rows at its floor (256) so a small real table is large enough to train IVF-PQ.
    settings = get_settings(home=tmp_path / "home", ann_min_rows=256)
    rows = _abstracts(shared, 130)
    docs = [_extraction(f"{r['_id']}.txt", f"{r['title']}\n\n{r['text']}") for r in rows]
    index_sources(docs, collection="sci", settings=settings)
    store = Store(settings)
    refresh(store)
    assert store.count_chunks() >= 256
    from pipelines.search import index_names

    assert VECTOR_INDEX in index_names(store.chunks())  # trained after the ingest
    query = "microstructural development of newborn cerebral white matter"
    answers: list[str] = []
    errors: list[BaseException] = []
    report: dict = {}

    def rebuild() -> None:
        try:
            report.update(inlet.reindex("sci", settings=settings))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    worker = threading.Thread(target=rebuild)
    worker.start()
    while worker.is_alive():
        for mode in ("text", "hybrid", "vector"):
            answers.append(inlet.search(query, mode=mode, limit=3, settings=settings)["file"][0])
    worker.join()
    assert not errors
    assert report["ann"] and set(report["rebuilt"]) == {"text_idx", "text_plain_idx", VECTOR_INDEX}
    assert len(answers) >= 3 and set(answers) == {"4983.txt"}  # answered, and right, meanwhile
    assert inlet.search(query, mode="vector", limit=1, settings=settings)["file"][0] == "4983.txt"
    with pytest.raises(ValueError, match="no collection"):
        inlet.reindex("nope", settings=settings)


# --- one owner, one entry point ------------------------------------------------------------


def test_the_store_knows_nothing_of_search() -> None:
    source = inspect.getsource(store_module)
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported |= {f"{node.module}.{a.name}" for a in node.names}
    assert not [name for name in imported if name.startswith("pipelines.search")]
    assert "pipelines.search" not in source
    for name in ("search", "refresh_indexes", "reindex"):
        assert not hasattr(Store, name), name
    for name in ("HIT_COLUMNS", "MODES"):
        assert not hasattr(store_module, name), name


def test_the_facade_and_the_engine_give_the_same_hits(corpus: tuple[Settings, dict[str, str]]) -> None:
    from pipelines.embed import load_query_encoder

    settings, _ = corpus
    store = Store(settings)
    query = "cerebral white matter in newborns"
    vector = load_query_encoder(settings).encode_query(query)  # what every search embeds with
    for mode in MODES:
        direct = search(store, query, vector if needs_query_vector(mode) else None, mode=mode, limit=5,
                        collection="sci")  # fmt: skip
        facade = inlet.search(query, mode=mode, limit=5, collection="sci", settings=settings)
        assert direct.columns == HIT_COLUMNS and 0 < direct.height <= 5
        assert_frame_equal(facade, direct)
        assert facade["file"][0] == "4983.txt", mode
        assert facade["citation"].to_list() == facade["file"].to_list()  # text files: no page, no time


def test_hybrid_fuses_both_lists_and_reads_whole_hits_even_after_rows_moved(
    shared: Path,
    tmp_path: Path,
    embedder,  # noqa: ANN001
) -> None:
    """A hybrid search ranks by reciprocal rank over the vector and keyword lists, then reads the
    text of the hits it returns; rows moved by a compaction in between are found by chunk id."""
    from pipelines import search as search_module

    settings = get_settings(home=tmp_path / "home")
    docs = {f"{r['_id']}.txt": f"{r['title'].strip()}\n\n{r['text'].strip()}" for r in _abstracts(shared, 30)}
    index_sources([_extraction(n, t) for n, t in docs.items()], collection="sci", settings=settings)
    refresh(Store(settings))
    store = Store(settings)
    query = "cerebral white matter in newborns"
    vector = embedder.encode_query(query)
    hits = search(store, query, vector, mode="hybrid", limit=5)
    lists = [search(store, query, vector, mode=m, limit=100) for m in ("vector", "text")]
    fused = search_module.reciprocal_rank_fusion(lists, limit=5)
    assert hits["chunk_id"].to_list() == fused["chunk_id"].to_list()
    assert hits["score"].to_list() == pytest.approx(fused["score"].to_list())
    for hit in hits.iter_rows(named=True):
        assert hit["text"] and hit["text"] in docs[hit["file"]] and hit["citation"] == hit["file"]

    table = store.chunks()
    before = search_module.vector_hits(
        store.reader("chunks"), vector, None, 5, False, columns=["chunk_id", "_rowid"]
    )
    first = table.search().where(f"chunk_id = '{before['chunk_id'][0]}'").select(["file"]).to_polars()
    moved = first["file"][0]  # delete the best hit's source and compact: the others' rows move
    table.delete(f"file = '{moved}'")
    table.optimize()
    gone = set(before["chunk_id"]) - set(
        store.chunks().search().select(["chunk_id"]).limit(10**6).to_polars()["chunk_id"]
    )
    assert gone  # the deleted source's chunks
    kept = before.filter(~pl.col("chunk_id").is_in(sorted(gone)))
    assert kept.height
    others = store.chunks().search().with_row_id(True).select(["chunk_id"]).limit(10**6).to_polars()
    others = others.filter(~pl.col("chunk_id").is_in(kept["chunk_id"].to_list()))
    wrong = kept.with_columns(others["_rowid"].head(kept.height))  # row ids that point elsewhere
    for candidates in (kept, wrong):
        rows = search_module._fetch(store.reader("chunks"), candidates)
        assert rows["chunk_id"].to_list() == kept["chunk_id"].to_list()
        assert rows["score"].to_list() == kept["score"].to_list()
        for row in rows.iter_rows(named=True):
            assert row["text"] in docs[row["file"]]


def test_vector_and_hybrid_need_a_query_vector(corpus: tuple[Settings, dict[str, str]]) -> None:
    settings, _ = corpus
    store = Store(settings)
    assert [m for m in MODES if needs_query_vector(m)] == ["vector", "hybrid"]
    for mode in MODES:
        assert inlet.search_needs_embedder(mode) == needs_query_vector(mode)
        if needs_query_vector(mode):  # the rule is what search itself requires
            with pytest.raises(ValueError, match="query vector"):
                search(store, "white matter", None, mode=mode)
        else:
            assert search(store, "white matter", None, mode=mode).height > 0
    with pytest.raises(ValueError, match="mode must be one of"):
        needs_query_vector("semantic")
    with pytest.raises(ValueError, match="mode must be one of"):
        inlet.search("white matter", mode="semantic", settings=settings)
    assert inlet.SEARCH_MODES == MODES and inlet.DEFAULT_SEARCH_MODE == "hybrid"


@pytest.mark.parametrize(
    ("hit", "cited"),
    [
        ({"file": "d.pdf", "page_start": 2, "page_end": 2}, "d.pdf, p. 2"),
        ({"file": "d.pdf", "page_start": 2, "page_end": 3}, "d.pdf, pp. 2–3"),
        ({"file": "d.pdf", "page_start": 4, "page_end": None}, "d.pdf, p. 4"),
        ({"file": "a.wav", "page_start": None, "time_start": 7.5, "time_end": 15.5},
         "a.wav, 00:07.5–00:15.5"),
        ({"file": "v.mp4", "time_start": 3600.0, "time_end": 3612.25},
         "v.mp4, 1:00:00.0–1:00:12.2"),
        ({"file": "a.wav", "time_start": 0.0, "time_end": None}, "a.wav, 00:00.0–?"),
        ({"file": "n.md", "page_start": None, "page_end": None, "time_start": None}, "n.md"),
        ({"file": "n.md", "page_start": float("nan"), "time_start": float("nan")}, "n.md"),
    ],
)  # fmt: skip
def test_citation(hit: dict, cited: str) -> None:
    assert citation(hit) == cited
