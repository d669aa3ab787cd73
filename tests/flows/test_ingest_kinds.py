"""Web pages, Office documents, e-books, images and scans through the real ingest path: file ->
job -> chunks -> a search hit with the right citation."""

from __future__ import annotations

from pathlib import Path

import pytest

import inlet
from dashboard import helpers
from tests.pipelines.test_extract_documents import make_docx, make_epub
from tests.pipelines.test_extract_html import PAGE
from tests.pipelines.test_extract_mail import make_eml
from tests.pipelines.test_extract_odf import SLIDES, TEXT, make_odf
from tests.pipelines.test_extract_office import SLIDE_NOTE, make_pptx, make_xlsx
from tests.pipelines.test_ocr import LINES, SECOND, page_image, scanned_pdf

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kinds")
    (folder / "tides-page.txt").write_text(PAGE, encoding="utf-8")  # a web page under a text name
    make_docx(folder / "survey.docx")
    make_epub(folder / "keeper.epub")
    make_pptx(folder / "board.pptx")
    make_xlsx(folder / "gauges.xlsx")
    make_eml(folder / "buoy-report.eml")
    make_odf(folder / "survey-notes.odt", "odt", TEXT, "Harbour survey notes")
    make_odf(folder / "buoys.odp", "odp", SLIDES)
    page_image(LINES).convert("RGB").save(folder / "harbour-photo.jpg", "JPEG", quality=90)
    scanned_pdf(folder / "scanned-log.pdf", [LINES, SECOND])
    return folder


@pytest.fixture(scope="module")
def ingested(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    home = tmp_path_factory.mktemp("home")
    return inlet.ingest([folder], collection="kinds", home=home), home


def by_file(summary: dict) -> dict[str, dict]:
    return {s["file"]: s for s in summary["sources"]}


def test_every_kind_is_ingested(ingested: tuple[dict, Path]) -> None:
    summary, _ = ingested
    for name, source in by_file(summary).items():
        assert source["status"] == "ingested" and source["chunks"] >= 1, (name, source)


def test_a_web_page_body_is_searchable_and_its_scripts_are_not(ingested: tuple[dict, Path]) -> None:
    _, home = ingested
    hits = inlet.search("sailors call these spring tides", mode="text", limit=3, home=home)
    top = hits.row(0, named=True)
    assert top["file"] == "tides-page.txt" and top["kind"] == "html"
    assert top["citation"] == "tides-page.txt"
    assert "<" not in helpers.snippet_markdown(top["snippet"]).replace("\\<", "")
    for hidden in ("zebrafish", "scriptsecret", "navlinkword", "sidebarword"):
        assert inlet.search(hidden, mode="text", home=home).height == 0, hidden
    shown = inlet.show("tides-page.txt", home=home)
    assert shown["kind"] == "html" and shown["title"] == "Tide Tables & Moons"


def test_a_docx_table_cell_is_searchable(ingested: tuple[dict, Path]) -> None:
    _, home = ingested
    hits = inlet.search("Kelpwater basin depth", mode="text", kind="docx", limit=3, home=home)
    top = hits.row(0, named=True)
    assert top["file"] == "survey.docx" and top["citation"] == "survey.docx"
    assert "Kelpwater basin | 3.4 m" in top["text"]
    # the language is told from the text and recorded for the source and its chunks
    assert inlet.show("survey.docx", home=home)["language"] == "en"
    assert inlet.search("Kelpwater basin depth", mode="text", language="en", home=home).height >= 1
    assert inlet.search("Kelpwater basin depth", mode="text", language="de", home=home).height == 0


def test_a_slide_and_a_sheet_are_cited_by_their_number(ingested: tuple[dict, Path]) -> None:
    _, home = ingested
    hits = inlet.search("Brindlemoor buoy drifted", mode="text", kind="pptx", limit=3, home=home)
    top = hits.row(0, named=True)
    assert top["file"] == "board.pptx" and top["kind"] == "pptx"
    assert top["page_start"] <= 3 <= top["page_end"] and "slide" in top["citation"]
    assert SLIDE_NOTE in inlet.show("board.pptx", home=home)["segments"][-1]["text"]  # the speaker notes
    hits = inlet.search("Kelpwater basin gauge height", mode="text", kind="xlsx", limit=3, home=home)
    top = hits.row(0, named=True)
    assert top["file"] == "gauges.xlsx" and top["page_start"] == 1
    assert top["citation"].startswith("gauges.xlsx, sheet")
    assert "Kelpwater basin | 3 | 2026-03-15 06:45:00 | FALSE" in top["text"]
    shown = inlet.show("gauges.xlsx", home=home)
    assert shown["kind"] == "xlsx" and shown["title"] == "Tide gauge readings" and shown["pages"] == 3


def test_opendocument_text_and_slides_are_found_and_cited(ingested: tuple[dict, Path]) -> None:
    _, home = ingested
    top = inlet.search("Kelpwater basin depth", mode="text", kind="odt", limit=3, home=home).row(
        0, named=True
    )
    assert top["file"] == "survey-notes.odt" and top["citation"] == "survey-notes.odt"
    top = inlet.search("Say the drift slowly", mode="text", kind="odp", limit=3, home=home).row(0, named=True)
    assert top["file"] == "buoys.odp" and top["page_start"] == 1  # one chunk holds both slides here
    assert top["citation"] == "buoys.odp, slides 1–2"
    assert inlet.show("survey-notes.odt", home=home)["title"] == "Harbour survey notes"


def test_an_email_is_found_by_its_body_and_its_sender(ingested: tuple[dict, Path]) -> None:
    _, home = ingested
    hits = inlet.search(
        "buoy marks the wrong side of the channel", mode="text", kind="email", limit=3, home=home
    )
    top = hits.row(0, named=True)
    assert top["file"] == "buoy-report.eml" and top["citation"] == "buoy-report.eml"
    assert inlet.search("Marta Kowalska", mode="text", kind="email", home=home).height >= 1  # the headers
    shown = inlet.show("buoy-report.eml", home=home)
    assert shown["title"] == "Brindlemoor buoy off station – survey needed"
    assert shown["warnings"] == ["1 attachment(s) not read: drift-map.pdf"]
    # what it is about comes from its subject and body, not from who sent it when
    words = {w for k in shown["keywords"] for w in k.split()}
    assert "Brindlemoor buoy" in shown["keywords"]
    assert not words & {"Attachments", "Tue", "Mar", "Kowalska", "Cc"}, shown["keywords"]


def test_an_epub_hit_is_cited_by_its_chapter(ingested: tuple[dict, Path]) -> None:
    _, home = ingested
    hits = inlet.search("keeper rang the fog bell", mode="text", limit=3, home=home)
    top = hits.row(0, named=True)
    assert top["file"] == "keeper.epub" and top["kind"] == "epub"
    assert top["page_start"] <= 2 <= top["page_end"]
    assert top["citation"].startswith("keeper.epub, ch. ")
    shown = inlet.show("keeper.epub", home=home)
    assert shown["title"] == "The Keeper of the Reef" and shown["pages"] == 3


def test_a_word_in_an_image_is_found_and_cited_to_the_image(ingested: tuple[dict, Path]) -> None:
    _, home = ingested
    hits = inlet.search("lighthouse keeper counted ships", mode="text", kind="image", limit=3, home=home)
    top = hits.row(0, named=True)
    assert top["file"] == "harbour-photo.jpg" and top["kind"] == "image"
    assert top["citation"].startswith("harbour-photo.jpg (OCR, ") and top["citation"].endswith(
        "% confidence)"
    )


def test_a_phrase_from_a_scanned_page_is_found_on_its_page(ingested: tuple[dict, Path]) -> None:
    _, home = ingested
    hits = inlet.search('"cargo of salt and timber"', mode="text", kind="pdf", limit=3, home=home)
    top = hits.row(0, named=True)
    assert top["file"] == "scanned-log.pdf" and top["page_start"] <= 2 <= top["page_end"]
    assert "(OCR, " in top["citation"]
    shown = inlet.show("scanned-log.pdf", home=home)
    assert [s["page"] for s in shown["segments"]] == [1, 2]
    assert all(s["ocr_confidence"] > 80 for s in shown["segments"])


def test_the_cli_filters_by_the_new_kinds_and_shows_ocr(ingested: tuple[dict, Path]) -> None:
    import json
    import os
    import subprocess
    import sys

    _, home = ingested
    cli = str(Path(sys.executable).parent / "inlet")
    env = {**os.environ, "INLET_HOME": str(home)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([cli, *args], capture_output=True, text=True, env=env, timeout=300)

    found = run("search", "harbour", "--kind", "image", "--kind", "docx", "--mode", "text", "--json")
    assert found.returncode == 0, found.stderr
    kinds = {hit["kind"] for hit in json.loads(found.stdout)["results"]}
    assert kinds == {"image", "docx"}
    shown = run("show", "scanned-log.pdf")
    assert shown.returncode == 0, shown.stderr
    assert "[p. 2, OCR " in shown.stdout and "cargo of salt" in shown.stdout
    book = run("show", "keeper.epub")
    assert book.returncode == 0 and "[ch. 2] " in book.stdout, book.stdout  # chapters, as cited
    deck = run("show", "board.pptx")
    assert deck.returncode == 0 and "[slide 3] Buoy | State" in deck.stdout, deck.stdout
    found = run("search", "Brindlemoor", "--kind", "pptx", "--kind", "xlsx", "--mode", "text", "--json")
    assert {hit["kind"] for hit in json.loads(found.stdout)["results"]} == {"pptx"}
    wrong = run("search", "harbour", "--kind", "spreadsheet")
    assert wrong.returncode != 0 and "epub" in wrong.stderr  # the choices are listed


# --- recordings: languages of speech, and videos with stills --------------------------------
SILENT = "harbour_cam-north.mp4"


@pytest.fixture(scope="module")
def media(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, float]:
    """fw_multilingual.mp3 (English, then German from 30 s), a video with speech (made with
    espeak-ng and PyAV) and a tiny video without sound (PyAV), ingested together."""
    import shutil

    from tests.pipelines.test_extract_video import make_silent_video, make_talking_video

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    folder = tmp_path_factory.mktemp("media")
    shutil.copy(shared / "audio/fw_multilingual.mp3", folder / "licence-en-de.mp3")
    starts_at = make_talking_video(folder / "harbour-report.mp4", tmp_path_factory.mktemp("video-work"))
    make_silent_video(folder / SILENT)
    home = tmp_path_factory.mktemp("media-home")
    return inlet.ingest([folder], collection="media", home=home), home, starts_at


def test_each_half_of_a_two_language_recording_is_found_in_its_language(
    media: tuple[dict, Path, float],
) -> None:
    summary, home, _ = media
    assert all(s["status"] == "ingested" for s in summary["sources"]), summary["sources"]
    german = inlet.search("Dokumentationsdateien", mode="text", language="de", home=home)
    assert german.height >= 1 and german["file"][0] == "licence-en-de.mp3" and german["time_start"][0] >= 29.5
    assert inlet.search("Dokumentationsdateien", mode="text", language="en", home=home).height == 0
    english = inlet.search('"permission is hereby granted"', mode="text", language="en", home=home)
    assert english.height >= 1 and english["time_end"][0] <= 30.5
    assert inlet.search('"permission is hereby granted"', mode="text", language="de", home=home).height == 0
    shown = inlet.show("licence-en-de.mp3", home=home)
    assert {s["language"] for s in shown["segments"] if s["end"] <= 30} == {"en"}
    assert {s["language"] for s in shown["segments"] if s["start"] >= 30} == {"de"}


def test_a_spoken_phrase_in_a_video_is_found_at_its_seconds_with_a_still(
    media: tuple[dict, Path, float],
) -> None:
    import io

    from PIL import Image

    from pipelines.extract.video import THUMBNAIL_WIDTH
    from tests.api.server import serving
    from tests.pipelines.test_extract_video import HEIGHT, WIDTH, centre_colour, close, colour

    _, home, starts_at = media
    hits = inlet.search("lighthouse keeper counted forty seven ships", mode="text", kind="video", home=home)
    top = hits.row(0, named=True)
    assert top["file"] == "harbour-report.mp4" and top["kind"] == "video"
    assert abs(top["time_start"] - starts_at) <= 1.0, (
        top["time_start"],
        starts_at,
    )  # not 0: the speech's second
    assert top["citation"].startswith("harbour-report.mp4, 00:")
    still = inlet.thumbnail(top["source_id"], top["time_start"], home=home)
    image = Image.open(still)
    assert image.format == "JPEG" and image.size == (THUMBNAIL_WIDTH, THUMBNAIL_WIDTH * HEIGHT // WIDTH)
    assert close(centre_colour(still.read_bytes()), colour(int(top["time_start"])))
    shown = inlet.show("harbour-report.mp4", home=home)
    assert shown["video"] == {"container": shown["video"]["container"], "width": WIDTH, "height": HEIGHT,
                              "codec": "mpeg4", "fps": 5.0, "audio_codec": "aac",
                              "duration_s": shown["duration_s"]}  # fmt: skip
    assert shown["duration_s"] > starts_at and shown["warnings"] == []
    assert "mp4" in shown["video"]["container"] and shown["language"] == "en"
    with pytest.raises(LookupError, match="not a video"):
        inlet.thumbnail("licence-en-de.mp3", 3.0, home=home)

    import httpx

    with serving(home, "--no-preload") as url:
        found = httpx.get(
            f"{url}/v1/search", params={"q": "forty seven ships", "mode": "text", "kind": "video"}
        )
        link = found.raise_for_status().json()["results"][0]["links"]["thumbnail"]
        assert link.startswith(f"/v1/sources/{top['source_id']}/thumbnail?t=")
        served = httpx.get(url + link, timeout=60)
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        assert Image.open(io.BytesIO(served.content)).size == image.size
        audio_id = inlet.sources("media", kind="audio", home=home)["source_id"][0]
        assert httpx.get(f"{url}/v1/sources/{audio_id}/thumbnail").status_code == 404
        cover = httpx.get(f"{url}/v1/sources/{top['source_id']}/thumbnail", timeout=60)  # no t: the poster
        assert (
            cover.status_code == 200
            and cover.content == inlet.thumbnail(top["source_id"], home=home).read_bytes()
        )
        silent = httpx.get(f"{url}/v1/sources/{inlet.show(SILENT, home=home)['source_id']}").json()
        assert silent["video"]["codec"] == "mpeg4" and silent["video"]["audio_codec"] is None
        assert silent["warnings"][0].startswith("no_audio_track: ") and "path" not in silent
        assert httpx.get(f"{url}/v1/sources/{top['source_id']}").json()["video"] == shown["video"]


def test_a_video_without_sound_is_found_by_its_name_and_shown_with_its_still_and_facts(
    media: tuple[dict, Path, float],
) -> None:
    import os
    import subprocess
    import sys

    from tests.pipelines.test_extract_video import (
        SILENT_FPS,
        SILENT_S,
        SILENT_SIZE,
        centre_colour,
        close,
        colour,
    )

    summary, home, _ = media
    assert by_file(summary)[SILENT]["status"] == "ingested" and by_file(summary)[SILENT]["chunks"] == 1
    named = inlet.search("harbour cam north", mode="text", home=home).row(0, named=True)
    assert named["file"] == SILENT and named["kind"] == "video" and named["time_start"] == 0.0
    assert "no audio track" in named["text"] and named["citation"].startswith(f"{SILENT}, 00:00.0–00:03")
    assert inlet.search("video", mode="text", kind="video", home=home)["file"][0] == SILENT
    still = inlet.thumbnail(named["source_id"], named["time_start"], home=home)
    assert close(centre_colour(still.read_bytes()), colour(0))  # the hit's picture: its first second
    shown = inlet.show(SILENT, home=home)
    width, height = SILENT_SIZE
    assert {k: v for k, v in shown["video"].items() if k != "duration_s"} == {
        "container": shown["video"]["container"], "width": width, "height": height, "codec": "mpeg4",
        "fps": SILENT_FPS, "audio_codec": None,
    }  # fmt: skip
    assert shown["video"]["duration_s"] == pytest.approx(SILENT_S, abs=0.3)
    assert [w.split(":")[0] for w in shown["warnings"]] == ["no_audio_track"]
    assert SILENT not in inlet.errors(home=home)["file"].to_list()  # a warning, not a failure
    analysed = inlet.sources("media", home=home).filter(file=SILENT).row(0, named=True)
    assert analysed["keywords"] == ["harbour cam north"]  # its name, not "fps mp4 file" of inlet's words
    assert not analysed["summary"]
    cli = str(Path(sys.executable).parent / "inlet")
    printed = subprocess.run([cli, "show", SILENT], capture_output=True, text=True, timeout=300,
                             env={**os.environ, "INLET_HOME": str(home)})  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    assert f"video: 00:03.0, {width}x{height}, mpeg4 {SILENT_FPS} fps, no sound track, " in printed.stdout
    assert "note: no_audio_track: " in printed.stdout
    assert inlet.stats(home=home)["collections"]["media"]["model"] == "all-MiniLM-L6-v2"


def test_every_kind_is_analysed_as_a_stage(ingested: tuple[dict, Path]) -> None:
    from pipelines import analytics
    from pipelines.config import get_settings

    summary, home = ingested
    rows = {r["file"]: r for r in inlet.sources("kinds", home=home).iter_rows(named=True)}
    assert set(rows) == set(by_file(summary))
    for name, row in rows.items():
        assert row["keywords"], name
    assert rows["tides-page.txt"]["summary"], rows["tides-page.txt"]
    events = analytics.query(
        get_settings(home=home),
        "SELECT file, duration_s FROM events WHERE job_id = ? AND stage = 'analyse' AND event = 'end'",
        [summary["job_id"]],
    )
    assert sorted(events["file"].to_list()) == sorted(rows)
    assert all(d is not None and d >= 0 for d in events["duration_s"].to_list())
