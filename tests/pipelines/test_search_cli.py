"""``inlet search`` (filters, ``--suggest``) and ``inlet reindex`` as a user runs them: real
processes over a home filled with real abstracts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.config import get_settings
from pipelines.index import index_sources
from pipelines.records import Extraction, Segment, Source
from pipelines.search import refresh
from pipelines.store import Store

pytestmark = pytest.mark.slow

INLET = str(Path(sys.executable).parent / "inlet")


def run(home: Path, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "INLET_HOME": str(home)}
    proc = subprocess.run([INLET, *args], capture_output=True, text=True, env=env, timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def home(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli-search-home")
    settings = get_settings(home=home)
    extractions = []
    with (shared / "retrieval" / "scifact" / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line, _ in zip(fh, range(12), strict=False):
            row = json.loads(line)
            text = f"{row['title']}\n\n{row['text']}"
            source = Source(path=f"/c/{row['_id']}.txt", source_id=f"{int(row['_id']):064d}", kind="text",
                            size=len(text), file=f"{row['_id']}.txt")  # fmt: skip
            extractions.append(Extraction(source=source, segments=[Segment(text=text)], language="en"))
    index_sources(extractions, collection="sci", settings=settings)
    refresh(Store(settings))
    return home


def test_search_filters_and_default_mode(home: Path) -> None:
    code, out, err = run(home, "search", "cerebral white matter in newborns", "--json", "-n", "3")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["mode"] == "hybrid" and doc["results"][0]["file"] == "4983.txt"
    code, out, _ = run(home, "search", "white matter", "--file", "4983.txt' OR '1'='1", "--json")
    assert code == 0 and json.loads(out)["results"] == []
    code, out, _ = run(home, "search", "white matter", "--until", "2000-01-01", "--json")
    assert code == 0 and json.loads(out)["results"] == []
    code, _, err = run(home, "search", "white matter", "--since", "yesterday-ish")
    assert code == 2 and "ISO date" in err


def test_suggest_and_reindex(home: Path) -> None:
    code, out, err = run(home, "search", "cerebral white mat", "--suggest", "--json")
    assert code == 0, err
    assert "cerebral white matter" in json.loads(out)["suggestions"]
    code, out, err = run(home, "reindex", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["rebuilt"] == ["text_idx", "text_plain_idx"] and report["ann"] is False
    code, out, _ = run(home, "reindex")
    assert code == 0 and "Reindexed" in out and "exact vector search" in out
    code, _, err = run(home, "reindex", "--collection", "missing")
    assert code == 2 and "no collection" in err


def test_a_search_from_a_new_process_loads_neither_torch_nor_sentence_transformers(
    home: Path,
    embedder,  # noqa: ANN001
) -> None:
    """The command embeds the query with onnxruntime alone, and finds what the full model finds."""
    from pipelines import search

    query = "cells that divide without control"
    script = (
        "import sys\nfrom inlet.cli import main\n"
        f"try:\n    main(['search', {query!r}, '--json', '--limit', '5'])\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules, file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "INLET_HOME": str(home)})  # fmt: skip
    assert proc.stderr.strip().splitlines()[-1] == "False False", proc.stderr
    found = [hit["chunk_id"] for hit in json.loads(proc.stdout)["results"]]
    full = search.search(Store(get_settings(home=home)), query, embedder.encode_query(query), limit=5)
    assert found == full["chunk_id"].to_list() and len(found) == 5
