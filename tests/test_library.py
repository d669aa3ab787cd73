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
    report = inlet.delete(str(path), purge_cache=True)
    assert report["collections"] == ["papers", "speeches"] and report["cache_files_removed"] == 1
    assert "lincoln_second_inaugural.md" not in inlet.sources()["file"].to_list()
    with pytest.raises(LookupError):
        inlet.show(str(path))  # the file is still on disk, but its extraction is gone
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
