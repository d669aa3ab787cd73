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

from dashboard import helpers, strings

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "dashboard" / "app.py")
SAMPLES = REPO / "samples" / "corpus"
SAMPLE_FILES = sorted(p.name for p in SAMPLES.iterdir())
TIMEOUT_S = 60
CLOCK_SPAN = r"\d\d:\d\d\.\d–\d\d:\d\d\.\d"


@pytest.fixture(scope="module")
def filled_home(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A home filled once by ``inlet.ingest`` with the samples and one damaged PDF."""
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
        summary = inlet.ingest([str(SAMPLES), str(broken)], collection="samples")
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
    assert at.segmented_control(key="mode").value == "vector"
    assert at.selectbox(key="collection").options == [strings.ALL, "samples"]
    assert at.selectbox(key="kind").options == [strings.ALL, "PDF", "Text", "Audio"]
    assert at.slider(key="limit").value == 10


def test_speech_is_found_with_a_time_citation_and_a_player(filled: Path) -> None:
    at = app()
    headings = search(at, "ask not what your country can do for you")
    assert headings[0].startswith(strings.KIND_ICONS["audio"])
    assert re.fullmatch(rf"jfk_inaugural_excerpt\.wav, {CLOCK_SPAN}", cited(headings[0]))
    assert len(headings) == 10  # the default limit
    snippets = [m.value for m in at.markdown if "**ask**" in m.value]
    assert snippets and "**country**" in snippets[0]
    assert at.caption[1].value == strings.HITS_CAPTION.format(n=10)
    assert at.caption[2].value.startswith(strings.SCORE_LABELS["vector"])
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
    first, last = re.search(r"pp?\. (\d+)(?:-(\d+))?$", citation).group(1, 2)
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
    per_kind = zip(kinds[strings.COLUMNS["kind"]], kinds[strings.COLUMNS["sources"]], strict=True)
    assert dict(per_kind) == {"PDF": 3, "Text": 1, "Audio": 1}
    assert sorted(sources[strings.COLUMNS["file"]]) == SAMPLE_FILES
    assert set(sources[strings.COLUMNS["collection"]]) == {"samples"}

    errors = [m.value for m in at.markdown if m.value.startswith(":red-badge[")]
    assert len(errors) == 1
    assert errors[0].startswith(r":red-badge[damaged\_pdf] broken.pdf")
    from pipelines.errors import DamagedPdf

    assert helpers.markdown_escape(DamagedPdf.hint) in errors[0]
