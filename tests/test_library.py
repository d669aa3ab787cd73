"""``inlet.sources``, ``inlet.collections``, ``inlet.delete`` and their commands, on the sample
PDFs and Markdown file indexed with the real embedder into a real LanceDB store."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pypdf
import pytest

import inlet
from pipelines import cache
from pipelines.config import Settings, get_settings
from pipelines.extract import extract
from pipelines.index import index_sources
from pipelines.search import refresh
from pipelines.sources import inspect
from pipelines.store import Store
from tests.conftest import REPO, SAMPLES

pytestmark = pytest.mark.slow

TEXT_FILES = ["bill_of_rights.pdf", "declaration_of_independence.pdf", "gettysburg_address.pdf",
              "lincoln_second_inaugural.md"]  # fmt: skip


def _ingest(settings: Settings, folder: Path, names: list[str], collection: str) -> None:
    extractions = []
    for name in names:
        extraction = extract(inspect(folder / name, settings), settings)
        cache.save(extraction, settings)
        extractions.append(extraction)
    result = index_sources(extractions, collection=collection, settings=settings)
    assert not [s for s in result.sources if s.error]
    refresh(Store(settings))


@pytest.fixture
def library(inlet_home: Path, tmp_path: Path, embedder: object) -> tuple[Settings, Path]:
    """Four sample files in ``papers``; two of them also in ``speeches``."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in TEXT_FILES:
        shutil.copy(SAMPLES / name, folder / name)
    settings = get_settings()
    _ingest(settings, folder, TEXT_FILES, "papers")
    _ingest(settings, folder, ["gettysburg_address.pdf", "lincoln_second_inaugural.md"], "speeches")
    return settings, folder


def _chunks(settings: Settings, **filters: object) -> pl.DataFrame:
    return Store(settings).chunk_rows(**filters)


def test_sources_and_collections_describe_the_store(library: tuple[Settings, Path]) -> None:
    settings, folder = library
    frame = inlet.sources()
    assert frame.height == 6
    assert set(frame.columns) >= {"source_id", "file", "path", "kind", "collection", "pages", "duration_s",
                                  "chunks", "ingested_at"}  # fmt: skip
    papers = inlet.sources("papers")
    assert sorted(papers["file"]) == sorted(TEXT_FILES)
    # Each row's chunk count is what the chunks table holds for that source.
    for row in papers.iter_rows(named=True):
        assert row["chunks"] == _chunks(settings, collection="papers", source_id=row["source_id"]).height > 0
    pdf = papers.filter(pl.col("file") == "declaration_of_independence.pdf").row(0, named=True)
    pages = len(pypdf.PdfReader(folder / "declaration_of_independence.pdf").pages)
    assert (pdf["kind"], pdf["pages"], pdf["path"]) == (
        "pdf",
        pages,
        str(folder / "declaration_of_independence.pdf"),
    )
    assert inlet.sources(kind="text")["file"].to_list() == ["lincoln_second_inaugural.md"] * 2

    summary = inlet.collections()
    assert summary["collection"].to_list() == ["papers", "speeches"]
    papers_row = summary.row(0, named=True)
    assert papers_row["sources"] == 4 and papers_row["kinds"] == ["pdf", "text"]
    assert papers_row["chunks"] == _chunks(settings, collection="papers").height
    assert papers_row["last_ingest"] == papers["ingested_at"].max()


def test_empty_store_gives_empty_frames_with_columns() -> None:
    assert inlet.sources().height == 0 and "source_id" in inlet.sources().columns
    assert inlet.collections().columns[:3] == ["collection", "sources", "chunks"]


def test_delete_a_source_from_one_collection(library: tuple[Settings, Path]) -> None:
    settings, folder = library
    gettysburg = inlet.sources("papers").filter(pl.col("file") == "gettysburg_address.pdf")["source_id"][0]
    before = _chunks(settings, collection="papers", source_id=gettysburg).height

    plan = inlet.delete("gettysburg_address.pdf", collection="papers", dry_run=True)
    assert plan["chunks_removed"] == before and inlet.sources("papers").height == 4  # nothing removed yet

    report = inlet.delete("gettysburg_address.pdf", collection="papers")
    assert report["collections"] == ["papers"] and report["chunks_removed"] == before
    assert [s["file"] for s in report["sources"]] == ["gettysburg_address.pdf"]
    assert "gettysburg_address.pdf" not in inlet.sources("papers")["file"].to_list()
    assert _chunks(settings, collection="papers", source_id=gettysburg).height == 0
    # The other collection keeps its copy, searches find it there only.
    assert _chunks(settings, collection="speeches", source_id=gettysburg).height > 0
    hits = inlet.search("government of the people, by the people, for the people", mode="text", limit=20)
    assert "gettysburg_address.pdf" in hits.filter(pl.col("collection") == "speeches")["file"].to_list()
    assert "gettysburg_address.pdf" not in hits.filter(pl.col("collection") == "papers")["file"].to_list()
    # The cached extraction stays, so show still works.
    assert inlet.show(gettysburg)["file"] == "gettysburg_address.pdf"


def test_delete_by_path_everywhere_and_purge_the_cache(library: tuple[Settings, Path]) -> None:
    settings, folder = library
    path = folder / "lincoln_second_inaugural.md"
    analysed = list((settings.cache_dir / "analyse").rglob("*.json"))
    assert len(analysed) == len(TEXT_FILES)  # keywords and summaries, kept by content
    report = inlet.delete(str(path), purge_cache=True)
    assert report["collections"] == ["papers", "speeches"] and report["cache_files_removed"] == 1
    assert "lincoln_second_inaugural.md" not in inlet.sources()["file"].to_list()
    with pytest.raises(LookupError):
        inlet.show(str(path))  # the file is still on disk, but its extraction is gone
    assert len(list((settings.cache_dir / "analyse").rglob("*.json"))) == len(TEXT_FILES) - 1
    # Not held anywhere any more: a second delete says so.
    with pytest.raises(LookupError, match="lincoln_second_inaugural.md"):
        inlet.delete(str(path))


def test_purge_keeps_extractions_another_collection_holds(library: tuple[Settings, Path]) -> None:
    report = inlet.delete("lincoln_second_inaugural.md", collection="papers", purge_cache=True)
    assert report["cache_files_removed"] == 0
    assert inlet.show("lincoln_second_inaugural.md")["kind"] == "text"


def test_delete_a_whole_collection(library: tuple[Settings, Path]) -> None:
    settings, _ = library
    report = inlet.delete(collection="speeches")
    assert report["collections"] == ["speeches"] and len(report["sources"]) == 2
    assert _chunks(settings, collection="speeches").height == 0
    assert inlet.collections()["collection"].to_list() == ["papers"]
    assert inlet.sources("papers").height == 4
    # A collection's name alone works too when no source has that name.
    inlet.delete("papers")
    assert inlet.collections().height == 0 and Store(settings).count_chunks() == 0


def test_delete_refuses_what_it_cannot_pin_down(library: tuple[Settings, Path]) -> None:
    with pytest.raises(LookupError, match="no_such.pdf"):
        inlet.delete("no_such.pdf")
    with pytest.raises(LookupError, match="nowhere"):
        inlet.delete(collection="nowhere")
    with pytest.raises(ValueError, match="say what to delete"):
        inlet.delete()
    assert inlet.sources().height == 6


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "inlet.cli", *args], capture_output=True, text=True, input=stdin, env=env,
        cwd=REPO, timeout=300,
    )  # fmt: skip


def test_cli_sources_collections_delete(library: tuple[Settings, Path]) -> None:
    listed = _cli("sources", "--collection", "speeches", "--json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(s["file"] for s in json.loads(listed.stdout)["sources"]) == [
        "gettysburg_address.pdf", "lincoln_second_inaugural.md"
    ]  # fmt: skip
    text = _cli("sources")
    assert text.returncode == 0 and "declaration_of_independence.pdf" in text.stdout

    collections = json.loads(_cli("collections", "--json").stdout)["collections"]
    assert [(c["collection"], c["sources"]) for c in collections] == [("papers", 4), ("speeches", 2)]

    # Without --yes it asks; answering no removes nothing.
    refused = _cli("delete", "--collection", "speeches", stdin="n\n")
    assert refused.returncode != 0 and "Remove 2 sources" in refused.stderr
    assert inlet.sources("speeches").height == 2

    done = _cli("delete", "gettysburg_address.pdf", "--collection", "speeches", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert [s["file"] for s in json.loads(done.stdout)["sources"]] == ["gettysburg_address.pdf"]
    assert inlet.sources("speeches")["file"].to_list() == ["lincoln_second_inaugural.md"]

    missing = _cli("delete", "no_such.pdf", "--yes")
    assert missing.returncode == 1 and "No ingested source matches 'no_such.pdf'" in missing.stderr


LABELS = ["rights: freedoms the law guarantees, speech, religion, trial by jury, amendments",
          "war: battle, soldiers, the dead, a nation at war"]  # fmt: skip


def test_labels_categories_and_filters_through_the_notebook_api(library: tuple[Settings, Path]) -> None:
    assert inlet.labels("papers") == []
    done = inlet.set_labels("papers", LABELS)
    assert done["labels"][0] == {"name": "rights", "description": LABELS[0].split(": ", 1)[1]}
    assert (done["sources"], done["categorised"]) == (4, done["categorised"]) and done["categorised"] >= 2
    assert [x["name"] for x in inlet.labels("papers")] == ["rights", "war"]
    assert inlet.labels("speeches") == []  # labels belong to one collection
    papers = {r["file"]: r for r in inlet.sources("papers").iter_rows(named=True)}
    assert papers["bill_of_rights.pdf"]["category"] == "rights"
    assert papers["gettysburg_address.pdf"]["category"] == "war"
    assert inlet.sources("speeches")["category"].to_list() == [None, None]
    for row in papers.values():
        assert 5 <= len(row["keywords"]) <= 10 and row["summary"], row["file"]

    # filters return only matching sources, in the list and in search
    war = inlet.sources("papers", category="war")
    assert set(war["category"].to_list()) == {"war"} and "gettysburg_address.pdf" in war["file"].to_list()
    hits = inlet.search("the people", collection="papers", category="war", mode="text", limit=20)
    assert hits.height and set(hits["source_id"].to_list()) <= set(war["source_id"].to_list())
    assert set(hits["category"].to_list()) == {"war"}
    keyword = papers["bill_of_rights.pdf"]["keywords"][0]
    with_keyword = inlet.sources(keyword=keyword)
    assert with_keyword.height and all(
        any(keyword.lower() in k.lower() for k in ks) for ks in with_keyword["keywords"].to_list()
    )
    hits = inlet.search("law", keyword=keyword, mode="text", limit=20)
    assert set(hits["source_id"].to_list()) <= set(with_keyword["source_id"].to_list())

    shown = inlet.show("bill_of_rights.pdf")
    assert shown["category"] == "rights" and shown["keywords"] == papers["bill_of_rights.pdf"]["keywords"]
    pages = {s["page"]: s["text"] for s in shown["segments"]}
    for sentence in shown["summary"]:
        assert sentence["text"] in pages[sentence["page"]]
        assert sentence["citation"] == f"bill_of_rights.pdf, p. {sentence['page']}"

    # changed (as a dict), then cleared
    inlet.set_labels("papers", {"speeches": "an address to a crowd, the nation, the people"})
    assert set(inlet.sources("papers")["category"].to_list()) <= {"speeches", None}
    assert inlet.sources("papers", category="war").height == 0
    cleared = inlet.set_labels("papers", None)
    assert cleared["labels"] == [] and cleared["categorised"] == 0
    assert inlet.sources("papers")["category"].to_list() == [None] * 4
    with pytest.raises(ValueError, match="name"):
        inlet.set_labels("papers", [": nameless"])


def test_cli_labels_filters_and_analysis_fields(library: tuple[Settings, Path]) -> None:
    done = _cli("collections", "set-labels", "papers", *LABELS, "--json")
    assert done.returncode == 0, done.stderr
    assert [x["name"] for x in json.loads(done.stdout)["labels"]] == ["rights", "war"]
    listed = json.loads(_cli("collections", "labels", "papers", "--json").stdout)
    assert [x["name"] for x in listed["labels"]] == ["rights", "war"]

    rights = json.loads(_cli("sources", "--collection", "papers", "--category", "rights", "--json").stdout)
    assert [s["category"] for s in rights["sources"]] and {s["category"] for s in rights["sources"]} == {
        "rights"
    }
    one = rights["sources"][0]
    assert one["keywords"] and one["summary"][0]["citation"].startswith(one["file"])
    shown = json.loads(_cli("show", "bill_of_rights.pdf", "--json").stdout)
    assert shown["category"] == "rights" and shown["keywords"] and shown["summary"]
    hits = json.loads(_cli("search", "people", "--category", "war", "--mode", "text", "--json").stdout)[
        "results"
    ]
    assert hits and {h["category"] for h in hits} == {"war"}
    keyword = shown["keywords"][0]
    hits = json.loads(_cli("search", "law", "--keyword", keyword, "--mode", "text", "--json").stdout)[
        "results"
    ]
    assert hits and all(any(keyword.lower() in k.lower() for k in h["keywords"]) for h in hits)

    text = _cli("collections", "set-labels", "papers", "war: battle, soldiers, the dead")
    assert text.returncode == 0 and "papers: labels war;" in text.stdout
    assert set(inlet.sources("papers")["category"].to_list()) <= {"war", None}
    bad = _cli("collections", "set-labels", "papers")
    assert bad.returncode != 0 and "--clear" in bad.stderr
    cleared = _cli("collections", "set-labels", "papers", "--clear", "--json")
    assert cleared.returncode == 0 and json.loads(cleared.stdout)["labels"] == []
    assert inlet.labels("papers") == [] and inlet.sources("papers")["category"].to_list() == [None] * 4
    assert json.loads(_cli("collections", "--json").stdout)["collections"][0]["collection"] == "papers"
