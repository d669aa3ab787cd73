"""The LanceDB store: idempotent writes, stale-chunk removal, safe filters, search modes."""

import numpy as np
import pytest

from pipelines.config import get_settings
from pipelines.embed import embed_texts
from pipelines.index import index_sources
from pipelines.records import Extraction, Segment, Source
from pipelines.store import Store, VectorCache, sql_literal, where


def _extraction(source_id: str, texts: list[str], path: str = "/x/doc.txt", kind: str = "text") -> Extraction:
    source = Source(path=path, source_id=source_id, kind=kind, size=1, file=path.rsplit("/", 1)[-1])
    return Extraction(source=source, segments=[Segment(text=t, page=i + 1) for i, t in enumerate(texts)])


def test_sql_literal_keeps_values_as_data() -> None:
    assert sql_literal("O'Brien") == "'O''Brien'"
    assert where(collection="x' OR '1'='1") == "`collection` = 'x'' OR ''1''=''1'"
    with pytest.raises(ValueError):
        where(**{"text; DROP": "x"})
    with pytest.raises(ValueError):
        sql_literal("nul\x00byte")


def test_reingest_is_idempotent_and_replaces_stale_chunks(embedder) -> None:  # noqa: ANN001
    settings = get_settings()
    store = Store(settings)
    long = [("The quick brown fox jumps over the lazy dog. " * 30), "Second page about oceans. " * 40]
    first = index_sources([_extraction("a" * 64, long)], collection="c", settings=settings)
    n = first.chunks_written
    assert n >= 2 and store.count_chunks() == n
    again = index_sources([_extraction("a" * 64, long)], collection="c", settings=settings)
    assert store.count_chunks() == n and again.embedded == 0
    # A changed file at the same path replaces its old chunks in the same commit.
    new_id = "b" * 64
    replaces = {new_id: store.replaced_by("c", "/x/doc.txt", new_id)}
    assert replaces[new_id] == ["a" * 64]
    index_sources(
        [_extraction(new_id, ["Only one short page now."])],
        collection="c",
        settings=settings,
        replaces=replaces,
    )
    rows = store.chunk_rows(collection="c")
    assert rows["source_id"].unique().to_list() == [new_id] and rows.height == 1
    assert store.source_rows("c")["source_id"].to_list() == [new_id]


def test_filters_and_hostile_values(embedder) -> None:  # noqa: ANN001
    settings = get_settings()
    store = Store(settings)
    index_sources(
        [_extraction("a" * 64, ["Whales sing in the deep ocean."], path="/x/whales.txt")],
        collection="sea",
        settings=settings,
    )
    index_sources(
        [_extraction("b" * 64, ["Whales are large mammals of the sea."], path="/x/o'brien.pdf", kind="pdf")],
        collection="land",
        settings=settings,
    )
    store.refresh_indexes()
    vector = embedder.encode_query("whales")
    for mode in ("vector", "text", "hybrid"):
        assert set(store.search("whales", vector, mode=mode)["collection"]) == {"sea", "land"}
        assert set(store.search("whales", vector, mode=mode, collection="sea")["collection"]) == {"sea"}
        assert set(store.search("whales", vector, mode=mode, kind="pdf")["file"]) == {"o'brien.pdf"}
        hostile = store.search("whales", vector, mode=mode, collection="sea' OR '1'='1")
        assert hostile.height == 0
    # A query full of SQL and quotes is searched for, not executed.
    assert store.search("'; DROP TABLE chunks; --", vector, mode="text").height >= 0
    assert store.count_chunks() == 2


def test_phrase_query_ranks_its_passage_first(embedder) -> None:  # noqa: ANN001
    settings = get_settings()
    texts = ["the brown dog and the quick fox", "a quick brown fox leaps", "brown is a colour, fox a word"]
    index_sources(
        [_extraction(str(i) * 64, [t], path=f"/x/{i}.txt") for i, t in enumerate(texts)],
        collection="c",
        settings=settings,
    )
    store = Store(settings)
    store.refresh_indexes()
    hits = store.search('"quick brown fox"', None, mode="text")
    assert hits["text"].to_list() == ["a quick brown fox leaps"]


def test_vector_cache_embeds_each_text_once(embedder) -> None:  # noqa: ANN001
    cache = VectorCache(Store(get_settings()), embedder.dim)
    texts = ["alpha", "beta", "alpha"]
    first = embed_texts(texts, embedder, cache)
    assert first.computed == 2
    np.testing.assert_allclose(np.linalg.norm(first.vectors, axis=1), 1.0, rtol=1e-5)
    second = embed_texts(["beta", "gamma", "alpha"], embedder, cache)
    assert second.computed == 1
    np.testing.assert_allclose(second.vectors[0], first.vectors[1], rtol=1e-6)
