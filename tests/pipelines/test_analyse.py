"""The analyse stage on real text: keywords, extractive summaries with their citations, categories
by the collection's labels (set, changed, cleared without embedding the sources again), and the
category and keyword filters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipelines import analyse
from pipelines.config import get_settings
from pipelines.extract import extract
from pipelines.highlight import STOP_WORDS
from pipelines.index import index_sources
from pipelines.records import Extraction
from pipelines.search import refresh, search
from pipelines.sources import inspect
from pipelines.store import VECTORS, Store

SCIFACT = Path(__file__).resolve().parents[3] / "shared" / "data" / "retrieval" / "scifact" / "corpus.jsonl"


def scifact(n: int) -> list[dict]:
    """The first ``n`` SciFact abstracts (biomedical research)."""
    rows = []
    with SCIFACT.open(encoding="utf-8") as fh:
        for line in fh:
            rows.append(json.loads(line))
            if len(rows) == n:
                break
    return rows


def text_file(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def extracted(path: Path | str) -> Extraction:
    settings = get_settings()
    return extract(inspect(str(path), settings), settings)


@pytest.fixture
def vicksburg(shared: Path) -> Extraction:
    """Six scanned-and-OCRed pages of a Civil War memoir, with their text layer."""
    return extracted(shared / "pdfs" / "pypdf" / "Seige_of_Vicksburg_Sample_OCR.pdf")


def test_keywords_of_a_known_abstract_name_its_subject_and_no_stop_words(tmp_path: Path) -> None:
    row = scifact(1)[0]  # "Microstructural development of human newborn cerebral white matter ..."
    extraction = extracted(text_file(tmp_path, "abstract.txt", f"{row['title']}\n\n{row['text']}"))
    words = analyse.keywords(
        "\n\n".join(s.text for s in extraction.segments), extraction.language, get_settings().analyse_keywords
    )
    assert 5 <= len(words) <= 10
    joined = " ".join(words).lower()
    assert "white matter" in joined and "diffusion" in joined
    for phrase in words:
        words_of = phrase.lower().split()
        assert words_of[0] not in STOP_WORDS and words_of[-1] not in STOP_WORDS, phrase
    assert len({w.lower() for w in words}) == len(words)


@pytest.mark.parametrize("language", ["en", "de", "fr", "xx"])
def test_keywords_are_the_phrases_rapid_textrank_finds_with_the_languages_own_stop_words(
    language: str,
) -> None:
    """inlet hands rapid-textrank its stop-word list instead of letting it load the list on each
    call (analyse._extractor): the phrases and their scores must be the library's own."""
    import rapid_textrank

    texts = [f"{row['title']}\n\n{row['text']}" for row in scifact(40)]
    texts.append(  # German prose: its stop words ("die", "und", "der") matter here
        "Eine Honigbiene, die eine ergiebige Wiese gefunden hat, tanzt im Stock: die Richtung ihres "
        "Tanzes zeigt den Winkel zur Sonne, seine Dauer die Entfernung. Die anderen Bienen folgen "
        "dem Tanz und fliegen zu der Wiese, die sie nie gesehen haben."
    )
    config = rapid_textrank.TextRankConfig(top_n=16, language=language, max_phrase_length=3)
    library = rapid_textrank.BaseTextRank(config=config)
    for text in texts:
        expected = [(p.text, p.lemma, p.score) for p in library.extract_keywords(text).phrases]
        found = [
            (p.text, p.lemma, p.score)
            for p in analyse._extractor(language, 16).extract_keywords(text).phrases
        ]
        assert found == expected
        assert expected  # the texts have phrases to find


@pytest.mark.slow
def test_summary_sentences_are_verbatim_on_their_cited_page(vicksburg: Extraction) -> None:
    settings = get_settings()
    result = index_sources([vicksburg], collection="c", settings=settings)
    assert result.sources[0].error is None and result.sources[0].analyse_s > 0
    row = Store(settings).source_rows("c").row(0, named=True)
    summary = json.loads(row["summary"])
    assert 2 <= len(summary) <= 4
    pages = {s.page: s.text for s in vicksburg.segments}
    for sentence in summary:
        assert sentence["text"] in pages[sentence["page"]], sentence
        assert sentence["citation"] == f"Seige_of_Vicksburg_Sample_OCR.pdf, p. {sentence['page']}"
    # in document order
    order = [(s["page"], pages[s["page"]].index(s["text"])) for s in summary]
    assert order == sorted(order)
    keywords = [k.lower() for k in row["keywords"]]
    assert any("siege" in k or "vicksburg" in k for k in keywords), keywords
    # the source vector kept for categories is its chunks' normalised mean
    vectors = np.stack(Store(settings).chunk_rows(collection="c")["vector"].to_list())
    assert np.allclose(row["source_vector"], analyse.source_vector(vectors), atol=1e-5)


@pytest.mark.slow
def test_sentence_vectors_come_from_the_embedding_pass(embedder) -> None:  # noqa: ANN001
    """Pooling the model's token vectors over a sentence gives a vector close to the sentence's own
    (so the summary needs no second encoding), and the chunk's vector is unchanged."""
    text = "Whales sing long songs in the deep ocean. The stock market fell sharply on Monday."
    wanted = {"Whales sing long songs in the deep ocean.", "The stock market fell sharply on Monday."}
    pool = analyse.SentencePool(embedder.tokenizer, wanted)
    vector = embedder.encode_documents_with_tokens([text], pool)
    assert np.allclose(vector, embedder.encode_documents([text]), atol=1e-5)
    got = pool.vectors
    assert set(got) == wanted
    own = embedder.encode_documents(sorted(wanted))
    pooled = np.stack([got[t] for t in sorted(wanted)])
    similarity = pooled @ own.T
    assert similarity[0, 0] > similarity[0, 1] and similarity[1, 1] > similarity[1, 0]


@pytest.mark.slow
def test_a_transcript_summary_cites_seconds(shared: Path) -> None:
    settings = get_settings()
    extraction = extracted(shared / "audio" / "pywhispercpp_jfk.wav")
    index_sources([extraction], collection="talks", settings=settings)
    row = Store(settings).source_rows("talks").row(0, named=True)
    summary = json.loads(row["summary"])
    assert summary, row
    transcript = " ".join(s.text for s in extraction.segments)
    for sentence in summary:
        assert sentence["text"] in transcript
        assert sentence["start"] is not None and "page" not in sentence
        assert sentence["citation"].startswith("pywhispercpp_jfk.wav, 00:")
    assert any("country" in k.lower() for k in row["keywords"])


def _three_sources(tmp_path: Path, shared: Path) -> list[Extraction]:
    medical = scifact(1)[0]
    return [
        extracted(text_file(tmp_path, "white-matter.txt", f"{medical['title']}\n\n{medical['text']}")),
        extracted(shared / "audio" / "pywhispercpp_jfk.wav"),
        extracted(shared / "pdfs" / "pypdf" / "Seige_of_Vicksburg_Sample_OCR.pdf"),
    ]


LABELS = [
    ("medicine", "patients, disease, brain imaging, clinical research"),
    ("war", "soldiers, army, siege, battle, shells"),
    ("politics", "nation, citizens, country, government, speeches"),
]


@pytest.mark.slow
def test_labels_categorise_and_relabelling_embeds_only_the_labels(tmp_path: Path, shared: Path) -> None:
    settings = get_settings()
    store = Store(settings)
    store.set_labels("c", LABELS)
    assert store.labels("c") == LABELS
    index_sources(_three_sources(tmp_path, shared), collection="c", settings=settings)
    rows = {r["file"]: r for r in store.source_rows("c").iter_rows(named=True)}
    assert rows["white-matter.txt"]["category"] == "medicine"
    assert rows["Seige_of_Vicksburg_Sample_OCR.pdf"]["category"] == "war"
    assert rows["pywhispercpp_jfk.wav"]["category"] == "politics"
    assert all(r["category_score"] >= settings.category_min_similarity for r in rows.values())

    cached = store.db.open_table(VECTORS).count_rows()
    chunks = store.chunk_rows(collection="c").sort("chunk_id")
    store.set_labels("c", [("history", "the nineteenth century, the civil war, old memoirs")])
    done = analyse.recategorise(store, "c", settings)
    assert done == {"collection": "c", "labels": 1, "sources": 3, "categorised": done["categorised"]}
    after = {r["file"]: r for r in store.source_rows("c").iter_rows(named=True)}
    assert after["Seige_of_Vicksburg_Sample_OCR.pdf"]["category"] == "history"
    assert {r["category"] for r in after.values()} <= {"history", None}
    # only the new label was embedded; the chunks and their vectors are as they were
    assert store.db.open_table(VECTORS).count_rows() == cached + 1
    again = store.chunk_rows(collection="c").sort("chunk_id")
    assert again["vector"].to_list() == chunks["vector"].to_list()
    assert [r["keywords"] for r in after.values()] == [r["keywords"] for r in rows.values()]

    store.set_labels("c", [])
    analyse.recategorise(store, "c", settings)
    assert store.labels("c") == []
    assert store.source_rows("c")["category"].to_list() == [None, None, None]


@pytest.mark.slow
def test_category_and_keyword_filters_return_only_matching_sources(tmp_path: Path, shared: Path) -> None:
    settings = get_settings()
    store = Store(settings)
    store.set_labels("c", LABELS)
    index_sources(_three_sources(tmp_path, shared), collection="c", settings=settings)
    refresh(store)
    war = {source_id for _, source_id in store.analysed_sources("c", category="WAR")}
    rows = store.source_rows("c")
    assert war == set(rows.filter(rows["category"] == "war")["source_id"].to_list()) and len(war) == 1
    hits = search(store, "the country and its people", None, mode="text", limit=20, category="war")
    assert hits.height and set(hits["source_id"].to_list()) == war
    assert set(hits["category"].to_list()) == {"war"}
    medical = rows.filter(rows["file"] == "white-matter.txt").row(0, named=True)
    keyword = medical["keywords"][0]
    hits = search(store, "development of infants", None, mode="text", limit=20, keyword=keyword.upper())
    assert set(hits["source_id"].to_list()) == {medical["source_id"]}
    assert all(keyword in k for k in hits["keywords"].to_list())
    assert search(store, "country", None, mode="text", category="no such label").height == 0


@pytest.mark.slow
def test_analyse_off_indexes_without_analysis(tmp_path: Path) -> None:
    settings = get_settings(analyse=False)
    row = scifact(1)[0]
    index_sources(
        [extracted(text_file(tmp_path, "a.txt", f"{row['title']}\n\n{row['text']}"))],
        collection="c",
        settings=settings,
    )
    stored = Store(settings).source_rows("c").row(0, named=True)
    assert stored["keywords"] is None and stored["summary"] is None and stored["category"] is None


def test_label_text_is_parsed_and_checked() -> None:
    assert analyse.parse_label(" physics :  particles,  energy ") == ("physics", "particles, energy")
    assert analyse.parse_label("art") == ("art", "")
    with pytest.raises(ValueError, match="name"):
        analyse.parse_label(": no name")
    store = Store(get_settings())
    with pytest.raises(ValueError, match="once"):
        store.set_labels("c", [("a", "x"), ("a", "y")])
