"""OpenDocument text, spreadsheets and presentations: told by their declared type, read in order,
runs of repeated cells counted without expanding the empty ones, bad files classified."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest

from pipelines.config import get_settings
from pipelines.errors import DamagedDocument, EmptyInput, TooLong
from pipelines.extract import extract
from pipelines.sources import inspect

_ROOT = (
    '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" office:version="1.3">'
    "<office:body>{body}</office:body></office:document-content>"
)
_META = (
    '<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"><office:meta><dc:title>{title}</dc:title></office:meta>'
    "</office:document-meta>"
)
_TYPES = {
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
}

TEXT = (
    "<office:text><text:h text:outline-level='1'>Harbour survey</text:h>"
    "<text:p>The survey measured the <text:span>depth</text:span> of the harbour.<text:s text:c='3'/>Silt"
    "<office:annotation><text:p>a reviewer's comment</text:p></office:annotation> has risen.</text:p>"
    "<text:list><text:list-item><text:p>Dredge the Kelpwater basin</text:p></text:list-item>"
    "<text:list-item><text:list><text:list-item><text:p>before the autumn storms</text:p></text:list-item>"
    "</text:list></text:list-item></text:list>"
    "<table:table table:name='Depths'><table:table-column table:number-columns-repeated='2'/>"
    "<table:table-header-rows><table:table-row><table:table-cell><text:p>Berth</text:p></table:table-cell>"
    "<table:table-cell><text:p>Depth</text:p></table:table-cell></table:table-row></table:table-header-rows>"
    "<table:table-row><table:table-cell><text:p>Kelpwater basin</text:p></table:table-cell>"
    "<table:table-cell><text:p>3.4 m</text:p></table:table-cell></table:table-row></table:table>"
    "<text:h text:outline-level='2'>Next steps</text:h><text:p/></office:text>"
)
SHEETS = (
    "<office:spreadsheet><table:table table:name='Readings'>"
    "<table:table-row><table:table-cell><text:p>Gauge</text:p></table:table-cell>"
    "<table:table-cell><text:p>Share</text:p></table:table-cell></table:table-row>"
    "<table:table-row><table:table-cell office:value-type='string'><text:p>Quarrel Point</text:p></table:table-cell>"
    "<table:table-cell office:value-type='percentage' office:value='0.25'><text:p>25%</text:p></table:table-cell>"
    "</table:table-row>"
    "<table:table-row table:number-rows-repeated='2'><table:table-cell table:number-columns-repeated='2'>"
    "<text:p>checked</text:p></table:table-cell></table:table-row>"
    "<table:table-row table:number-rows-repeated='1048000'>"
    "<table:table-cell table:number-columns-repeated='1024'/></table:table-row>"
    "</table:table><table:table table:name='Notes'><table:table-row>"
    "<table:table-cell table:number-columns-spanned='2'><text:p>Recalibrated after the storm</text:p>"
    "</table:table-cell><table:covered-table-cell/></table:table-row></table:table></office:spreadsheet>"
)
SLIDES = (
    "<office:presentation><draw:page draw:name='page1'>"
    "<draw:frame presentation:class='title'><draw:text-box><text:p>Buoys</text:p></draw:text-box></draw:frame>"
    "<draw:frame><draw:text-box><text:list><text:list-item><text:p>Brindlemoor drifted 40 m</text:p>"
    "</text:list-item></text:list></draw:text-box></draw:frame>"
    "<draw:frame><table:table><table:table-row><table:table-cell><text:p>Saltgate</text:p></table:table-cell>"
    "<table:table-cell><text:p>in place</text:p></table:table-cell></table:table-row></table:table></draw:frame>"
    "<presentation:notes><draw:page-thumbnail/><draw:frame><draw:text-box><text:p>Say the drift slowly.</text:p>"
    "</draw:text-box></draw:frame></presentation:notes></draw:page>"
    "<draw:page draw:name='page2'><draw:custom-shape><text:p>Questions</text:p></draw:custom-shape></draw:page>"
    "</office:presentation>"
)


def make_odf(path: Path, kind: str, body: str, title: str = "") -> Path:
    """An OpenDocument package as the format lays it out: ``mimetype`` first and stored, the
    manifest, ``meta.xml`` and ``content.xml``."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), _TYPES[kind])
        z.writestr("META-INF/manifest.xml", "<manifest/>")
        z.writestr("meta.xml", _META.format(title=title))
        z.writestr("content.xml", _ROOT.format(body=body))
    return path


def test_an_opendocument_file_is_told_by_its_declared_type_whatever_its_name(tmp_path: Path) -> None:
    settings = get_settings()
    assert inspect(make_odf(tmp_path / "survey.zip", "odt", TEXT), settings).kind == "odt"
    assert inspect(make_odf(tmp_path / "readings", "ods", SHEETS), settings).kind == "ods"
    assert inspect(make_odf(tmp_path / "buoys.bin", "odp", SLIDES), settings).kind == "odp"


def test_odt_headings_paragraphs_lists_and_tables_in_order(tmp_path: Path) -> None:
    settings = get_settings()
    extraction = extract(
        inspect(make_odf(tmp_path / "s.odt", "odt", TEXT, "Harbour survey 2026"), settings), settings
    )
    assert extraction.source.title == "Harbour survey 2026"
    assert [s.text for s in extraction.segments] == [
        "# Harbour survey",
        "The survey measured the depth of the harbour. Silt has risen.",  # the comment is not text
        "Dredge the Kelpwater basin",
        "before the autumn storms",
        "Berth | Depth\nKelpwater basin | 3.4 m",
        "## Next steps",
    ]


def test_ods_sheets_with_displayed_values_and_runs_not_expanded(tmp_path: Path) -> None:
    settings = get_settings()
    started = time.perf_counter()
    extraction = extract(inspect(make_odf(tmp_path / "r.ods", "ods", SHEETS), settings), settings)
    assert time.perf_counter() - started < 30  # a million empty rows are skipped, not expanded
    assert extraction.source.pages == 2
    assert [(s.page, s.text) for s in extraction.segments] == [
        (1, "# Readings"),
        (1, "Gauge | Share\nQuarrel Point | 25%\nchecked | checked\nchecked | checked"),
        (2, "# Notes"),
        (2, "Recalibrated after the storm"),
    ]
    tight = get_settings(max_sheet_cells=5)
    with pytest.raises(TooLong, match="more than 5 cells"):
        extract(inspect(tmp_path / "r.ods", tight), tight)


def test_odp_slides_with_titles_frames_tables_and_notes(tmp_path: Path) -> None:
    settings = get_settings()
    extraction = extract(inspect(make_odf(tmp_path / "b.odp", "odp", SLIDES), settings), settings)
    assert extraction.source.pages == 2
    assert [(s.page, s.text) for s in extraction.segments] == [
        (1, "# Buoys"),
        (1, "Brindlemoor drifted 40 m"),
        (1, "Saltgate | in place"),
        (1, "Say the drift slowly."),
        (2, "Questions"),
    ]


def test_broken_and_empty_opendocument_files_are_classified(tmp_path: Path) -> None:
    settings = get_settings()
    whole = make_odf(tmp_path / "whole.odt", "odt", TEXT)
    cut = tmp_path / "cut.odt"
    with zipfile.ZipFile(whole) as src, zipfile.ZipFile(cut, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, data[: len(data) // 2] if name == "content.xml" else data)
    with pytest.raises(DamagedDocument) as caught:
        extract(inspect(cut, settings), settings)
    assert caught.value.hint and caught.value.path == str(cut)
    with pytest.raises(EmptyInput, match="holds no text"):
        extract(
            inspect(
                make_odf(tmp_path / "blank.odt", "odt", "<office:text><text:p/></office:text>"), settings
            ),
            settings,
        )
    with pytest.raises(EmptyInput, match="hold no values"):
        extract(inspect(make_odf(tmp_path / "blank.ods", "ods", "<office:spreadsheet/>"), settings), settings)
