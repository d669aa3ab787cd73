"""The LanceDB store: idempotent writes, stale-chunk removal, removing sources, safe filters
(searched through :mod:`pipelines.search`)."""

import numpy as np
import pytest

from pipelines.config import get_settings
from pipelines.embed import embed_texts
from pipelines.index import index_sources
from pipelines.records import Extraction, Segment, Source
from pipelines.search import refresh, search
from pipelines.store import Store, VectorCache, remove_sources, sql_literal, where


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
    # A changed file at the same path replaces its old chunks in the same commit; the ingest
    # flow finds the older versions of a path with one read of the collection (source_map).
    new_id = "b" * 64
    current, by_path = store.source_map("c", settings.chunking_key())
    assert current == {"a" * 64} and by_path == {"/x/doc.txt": {"a" * 64}}
    replaces = {new_id: sorted(by_path["/x/doc.txt"] - {new_id})}
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
    refresh(store)
    vector = embedder.encode_query("whales")
    for mode in ("vector", "text", "hybrid"):
        assert set(search(store, "whales", vector, mode=mode)["collection"]) == {"sea", "land"}
        assert set(search(store, "whales", vector, mode=mode, collection="sea")["collection"]) == {"sea"}
        assert set(search(store, "whales", vector, mode=mode, kind="pdf")["file"]) == {"o'brien.pdf"}
        hostile = search(store, "whales", vector, mode=mode, collection="sea' OR '1'='1")
        assert hostile.height == 0
    # A query full of SQL and quotes is searched for, not executed.
    assert search(store, "'; DROP TABLE chunks; --", vector, mode="text").height >= 0
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
    refresh(store)
    hits = search(store, '"quick brown fox"', None, mode="text")
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


def test_a_large_batch_reports_sources_as_their_chunks_are_embedded(embedder) -> None:  # noqa: ANN001
    from pipelines.embed import EMBED_SLICE

    settings = get_settings(chunk_tokens=24, chunk_overlap=0)  # many small chunks: a quick model
    store = Store(settings)
    extractions = [
        _extraction(
            f"{i:064d}",
            [
                f"Report {i}, page {j}: sample {i * 1000 + j} was measured at {j % 7} degrees."
                for j in range(200)
            ],
            path=f"/x/report{i}.txt",
        )
        for i in range(6)
    ]
    calls: list[tuple[str, list[str], int]] = []

    def on_stage(stage: str, sources: list) -> None:  # noqa: ANN001
        calls.append((stage, [s.source_id for s in sources], store.count_chunks()))

    result = index_sources(extractions, collection="c", settings=settings, on_stage=on_stage)
    ids = [e.source.source_id for e in extractions]
    assert result.chunks_written > EMBED_SLICE  # more than one slice for the model
    assert calls[0][:2] == ("chunk", ids)
    embeds = [c for c in calls if c[0] == "embed"]
    assert len(embeds) >= 2  # the first sources are reported before the batch ends
    assert [sid for _, done, _ in embeds for sid in done] == ids  # each once, in order
    assert all(written == 0 for *_, written in calls)  # all heard before the one commit
    assert store.count_chunks() == result.chunks_written
    assert sum(s.embed_s for s in result.sources) == pytest.approx(result.embed_s, rel=0.2)


def test_removing_a_source_drops_its_row_first_and_the_file_can_come_back(embedder) -> None:  # noqa: ANN001
    settings = get_settings()
    store = Store(settings)
    keep = _extraction("k" * 64, ["Tide tables are printed for the fleet."], path="/x/keep.txt")
    gone = _extraction("g" * 64, ["The lighthouse keeper trims the wick at dusk."], path="/x/gone.txt")
    index_sources([keep, gone], collection="c", settings=settings)
    refresh(store)
    n_gone = store.chunk_rows(source_id="g" * 64).height
    sources_table, chunks_table = store.sources_table(), store.chunks()
    assert sources_table is not None and chunks_table is not None
    sources_before, chunks_before = sources_table.version, chunks_table.version

    assert remove_sources(store, "c", ["g" * 64]) == n_gone > 0
    # One commit on each table, the sources table's first: had the process died between the
    # two, an orphan chunk would be rewritten by the next ingest, whereas a source row whose
    # chunks are gone would make that ingest skip the file as unchanged.
    sources_commits = [v for v in sources_table.list_versions() if v["version"] > sources_before]
    chunks_commits = [v for v in chunks_table.list_versions() if v["version"] > chunks_before]
    assert len(sources_commits) == len(chunks_commits) == 1
    assert sources_commits[0]["timestamp"] <= chunks_commits[0]["timestamp"]
    assert store.source_rows("c")["source_id"].to_list() == ["k" * 64]
    assert set(store.chunk_rows(collection="c")["source_id"]) == {"k" * 64}
    # No row claims the removed source any more, so the same file is ingested again.
    current, by_path = store.source_map("c", settings.chunking_key())
    assert current == {"k" * 64} and "/x/gone.txt" not in by_path
    assert index_sources([gone], collection="c", settings=settings).chunks_written == n_gone
    refresh(store)
    assert search(store, "lighthouse wick", None, mode="text")["file"].to_list() == ["gone.txt"]
    # A whole collection is removed the same way.
    assert remove_sources(store, "c") == n_gone + 1
    assert store.count_chunks("c") == 0 and store.source_rows("c").height == 0


def test_a_chunks_table_made_before_the_ocr_column_gets_it_at_its_next_write() -> None:
    import lancedb
    import pyarrow as pa

    from pipelines.config import get_settings
    from pipelines.store import OCR_COLUMN, chunk_schema, ensure_ocr_column

    settings = get_settings()
    settings.lancedb_dir.mkdir(parents=True)
    old = pa.schema([f for f in chunk_schema(4) if f.name != OCR_COLUMN])
    table = lancedb.connect(str(settings.lancedb_dir)).create_table("chunks", schema=old)
    assert ensure_ocr_column(table) is True and OCR_COLUMN in table.schema.names
    assert ensure_ocr_column(table) is False


def test_a_chunks_table_without_the_ocr_column_is_still_searched() -> None:
    import datetime as dt

    import lancedb
    import numpy as np
    import pyarrow as pa

    from pipelines.config import get_settings
    from pipelines.search import search
    from pipelines.store import OCR_COLUMN, Store, chunk_schema

    settings = get_settings()
    settings.lancedb_dir.mkdir(parents=True)
    old = pa.schema([f for f in chunk_schema(4) if f.name != OCR_COLUMN])
    row = {name: None for name in old.names} | {
        "chunk_id": "c1", "collection": "c", "source_id": "s", "file": "old.pdf", "kind": "pdf",
        "page_start": 2, "page_end": 2, "text": "an old chunk", "chunk_index": 0,
        "created_at": dt.datetime.now(dt.UTC), "vector": [1.0, 0.0, 0.0, 0.0],
    }  # fmt: skip
    lancedb.connect(str(settings.lancedb_dir)).create_table("chunks", pa.Table.from_pylist([row], schema=old))
    hits = search(Store(settings), "old chunk", np.array([1, 0, 0, 0], dtype=np.float32), mode="vector")
    assert hits["citation"].to_list() == ["old.pdf, p. 2"]


def test_the_sources_table_keeps_an_index_of_its_keys_and_lookups_stay_right(embedder) -> None:  # noqa: ANN001
    settings = get_settings()
    store = Store(settings)
    texts = {f"{i:064x}": [f"Report {i} on harbour tides and the fishing fleet."] for i in range(1, 6)}
    for source_id, pages in texts.items():
        index_sources(
            [_extraction(source_id, pages, path=f"/x/{source_id[-1]}.txt")], collection="c", settings=settings
        )
    store.optimize_sources()
    indexes = {i.name: str(i.index_type) for i in store.sources_table().list_indices()}
    assert indexes.get("source_key_idx") == "BTree", indexes
    # rows written after the index was built are found too (scanned until the next optimise)
    index_sources([_extraction("f" * 64, ["A late note on the tides."], path="/x/late.txt")], collection="c",
                  settings=settings)  # fmt: skip
    wanted = [("c", "f" * 64), ("c", f"{3:064x}"), ("other", f"{3:064x}")]
    assert set(store.analysis_of(wanted)) == {("c", "f" * 64), ("c", f"{3:064x}")}
    store.optimize_sources()  # a second time: the index is kept, not built again
    assert {i.name for i in store.sources_table().list_indices()} == {"source_key_idx"}
    assert set(store.analysis_of(wanted)) == {("c", "f" * 64), ("c", f"{3:064x}")}
