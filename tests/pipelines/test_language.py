"""The language of text sources, recorded with their extraction (and so per source and chunk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import get_settings
from pipelines.extract import extract
from pipelines.language import detect, sample
from pipelines.records import Segment
from pipelines.sources import inspect

SENTENCES = {
    "en": "The harbour master keeps a log of every ship that enters the port after dark.",
    "de": "Der Hafenmeister führt ein Buch über jedes Schiff, das nach Einbruch der Dunkelheit einläuft.",
    "fr": "Le capitaine du port tient un registre de chaque navire qui entre après la tombée de la nuit.",
    "es": "El capitán del puerto lleva un registro de cada barco que entra después del anochecer.",
    "it": "Il capitano del porto tiene un registro di ogni nave che entra dopo il tramonto.",
    "nl": "De havenmeester houdt een logboek bij van elk schip dat na het donker binnenvaart.",
}


@pytest.mark.parametrize("code", sorted(SENTENCES))
def test_a_sentence_is_told_by_its_language(code: str) -> None:
    assert detect(SENTENCES[code]) == code


def test_too_little_text_gets_no_guess() -> None:
    assert detect("12 | 3.4 m") is None and detect("") is None


def test_the_sample_spreads_over_a_long_document() -> None:
    segments = [Segment(text=f"{i:05d} " + "x" * 994) for i in range(100)]
    picked = sample(segments, limit=20_000)
    assert len(picked) <= 20_000 and "00000" in picked and "00095" in picked


def test_text_and_pages_get_their_language_at_extraction(tmp_path: Path) -> None:
    settings = get_settings()
    note = tmp_path / "notiz.md"
    note.write_text("# Hafen\n\n" + SENTENCES["de"] + "\n\n" + SENTENCES["de"].replace("Schiff", "Boot"))
    page = tmp_path / "page.html"
    page.write_text(f"<html><head><title>Port</title></head><body><p>{SENTENCES['fr']}</p></body></html>")
    assert extract(inspect(note, settings), settings).language == "de"
    assert extract(inspect(page, settings), settings).language == "fr"


def test_an_extraction_cached_without_a_language_gets_one_when_read(tmp_path: Path) -> None:
    from pipelines import cache
    from pipelines.records import Extraction

    settings = get_settings()
    note = tmp_path / "note.txt"
    note.write_text(SENTENCES["es"])
    source = inspect(note, settings)
    cache.save(Extraction(source=source, segments=[Segment(text=SENTENCES["es"])], language=None), settings)
    loaded = cache.load(source, settings)
    assert loaded is not None and loaded.cached and loaded.language == "es"
