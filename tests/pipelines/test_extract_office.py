"""PowerPoint presentations and Excel workbooks: told by their declared main part, read slide by
slide and sheet by sheet, bad ones classified."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest

from pipelines.config import get_settings
from pipelines.errors import DamagedDocument, EmptyInput, TooLong, UnsupportedFormat
from pipelines.extract import extract
from pipelines.sources import inspect

SLIDE_NOTE = "Mention that the Brindlemoor buoy drifted in March."


def make_pptx(path: Path) -> Path:
    """A deck saved by python-pptx: a title slide, a slide whose text boxes were added bottom
    first, a slide with a table, a group, a chart and speaker notes, and a slide with a picture
    only."""
    import pptx
    from PIL import Image
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches, Pt

    deck = pptx.Presentation()
    deck.core_properties.title = "Harbour board, spring review"
    first = deck.slides.add_slide(deck.slide_layouts[0])
    first.shapes.title.text = "Harbour board"
    first.placeholders[1].text = "Spring review of the moorings"
    second = deck.slides.add_slide(deck.slide_layouts[5])
    second.shapes.title.text = "Moorings"
    lower = second.shapes.add_textbox(Inches(1), Inches(5), Inches(8), Inches(1))
    lower.text_frame.text = "Chains were replaced on the east pontoon."
    upper = second.shapes.add_textbox(Inches(1), Inches(2), Inches(8), Inches(1))
    upper.text_frame.text = "Forty moorings were inspected by the divers."
    upper.text_frame.add_paragraph().text = "Six needed new shackles."
    third = deck.slides.add_slide(deck.slide_layouts[5])
    third.shapes.title.text = "Buoys"
    table = third.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(1.5)).table
    for r, (name, state) in enumerate(
        [("Buoy", "State"), ("Brindlemoor", "drifted 40 m"), ("Saltgate", "in place")]
    ):
        table.cell(r, 0).text, table.cell(r, 1).text = name, state
    group = third.shapes.add_group_shape()
    box = group.shapes.add_textbox(Inches(1), Inches(5), Inches(4), Inches(1))
    box.text_frame.text = "Survey boat: Marram Tern"
    box.text_frame.paragraphs[0].runs[0].font.size = Pt(14)
    data = CategoryChartData()
    data.categories = ["March", "April"]
    data.add_series("Drift (m)", (40, 12))
    chart = third.shapes.add_chart(
        XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(5), Inches(5), Inches(4), Inches(2), data
    ).chart
    chart.has_title = True
    chart.chart_title.text_frame.text = "Buoy drift by month"
    third.notes_slide.notes_text_frame.text = SLIDE_NOTE
    fourth = deck.slides.add_slide(deck.slide_layouts[6])  # blank layout: a picture, no text
    picture = path.with_suffix(".png")
    Image.new("RGB", (40, 30), "navy").save(picture)
    fourth.shapes.add_picture(str(picture), Inches(1), Inches(1))
    picture.unlink()
    deck.save(str(path))
    return path


def make_xlsx(path: Path) -> Path:
    """A workbook saved by openpyxl: a table of readings with numbers, dates and a boolean; a
    hidden sheet of notes with a gap; and an empty sheet."""
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.properties.title = "Tide gauge readings"
    readings = workbook.active
    readings.title = "Readings"
    readings.append(["Gauge", "Height (m)", "Read on", "Checked"])
    readings.append(["Quarrel Point", 4.25, dt.date(2026, 3, 14), True])
    readings.append(["Kelpwater basin", 3.0, dt.datetime(2026, 3, 15, 6, 45), False])
    readings.append([None, None, None, None])
    readings.append(["Saltgate", 0.1 + 0.2, None, None])
    notes = workbook.create_sheet("Notes")
    notes.sheet_state = "hidden"
    notes["B2"] = "The Quarrel Point gauge was recalibrated after the storm."
    notes["B4"] = 0.25
    notes["B4"].number_format = "0%"
    notes["D9"] = "Next reading due in April."
    workbook.create_sheet("Empty")
    workbook.save(str(path))
    return path


def test_office_documents_are_told_by_their_main_part_whatever_their_name(tmp_path: Path) -> None:
    settings = get_settings()
    assert inspect(make_pptx(tmp_path / "deck.zip"), settings).kind == "pptx"
    assert inspect(make_xlsx(tmp_path / "readings.bin"), settings).kind == "xlsx"
    other = tmp_path / "other.xlsx"  # an Office package of a kind inlet does not read
    with zipfile.ZipFile(other, "w") as z:
        z.writestr(
            "[Content_Types].xml",
            '<Types><Override ContentType="application/vnd.ms-visio.drawing.main+xml"/></Types>',
        )
    with pytest.raises(UnsupportedFormat) as info:
        inspect(other, settings)
    assert "ZIP archive" in info.value.message and "PPTX" in info.value.hint and "XLSX" in info.value.hint


def test_pptx_slides_in_order_with_titles_tables_groups_and_notes(tmp_path: Path) -> None:
    settings = get_settings()
    extraction = extract(inspect(make_pptx(tmp_path / "board.pptx"), settings), settings)
    source = extraction.source
    assert source.title == "Harbour board, spring review" and source.pages == 4
    by_slide = [(s.page, s.text) for s in extraction.segments]
    assert by_slide == [
        (1, "# Harbour board"),
        (1, "Spring review of the moorings"),
        (2, "# Moorings"),
        (2, "Forty moorings were inspected by the divers."),  # reading order: the upper box first
        (2, "Six needed new shackles."),
        (2, "Chains were replaced on the east pontoon."),
        (3, "# Buoys"),
        (3, "Buoy | State\nBrindlemoor | drifted 40 m\nSaltgate | in place"),
        (3, "Survey boat: Marram Tern"),
        (3, "Buoy drift by month"),  # a chart's title
        (3, SLIDE_NOTE),
    ]
    assert extraction.language == "en"


def test_xlsx_rows_by_sheet_with_values_as_excel_shows_them(tmp_path: Path) -> None:
    settings = get_settings()
    extraction = extract(inspect(make_xlsx(tmp_path / "gauges.xlsx"), settings), settings)
    source = extraction.source
    assert source.title == "Tide gauge readings" and source.pages == 3
    assert [(s.page, s.text) for s in extraction.segments] == [
        (1, "# Readings"),
        (1, "Gauge | Height (m) | Read on | Checked\n"
            "Quarrel Point | 4.25 | 2026-03-14 | TRUE\n"
            "Kelpwater basin | 3 | 2026-03-15 06:45:00 | FALSE\n"
            "Saltgate | 0.3"),
        (2, "# Notes"),  # hidden sheets are read too
        (2, "The Quarrel Point gauge was recalibrated after the storm.\n25%\nNext reading due in April."),
        (3, "# Empty"),
    ]  # fmt: skip


def test_a_long_sheet_is_cut_into_segments_and_a_huge_one_is_refused(tmp_path: Path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    for i in range(600):
        workbook.active.append([f"buoy {i}", i * 1.5, "checked by the harbour master"])
    path = tmp_path / "log.xlsx"
    workbook.save(str(path))
    settings = get_settings()
    extraction = extract(inspect(path, settings), settings)
    rows = [line for s in extraction.segments[1:] for line in s.text.split("\n")]
    assert rows[0] == "buoy 0 | 0 | checked by the harbour master" and len(rows) == 600
    assert len(extraction.segments) > 10 and all(len(s.text) < 1200 for s in extraction.segments)
    tight = get_settings(max_sheet_cells=1000)
    with pytest.raises(TooLong) as info:
        extract(inspect(path, tight), tight)
    assert "1,000 cells" in info.value.message and "INLET_MAX_SHEET_CELLS" in info.value.hint


def test_broken_and_empty_office_documents_are_classified(tmp_path: Path) -> None:
    import openpyxl
    import pptx

    settings = get_settings()
    for name, make in (("cut.pptx", make_pptx), ("cut.xlsx", make_xlsx)):
        whole = make(tmp_path / f"whole-{name}")
        damaged = tmp_path / name  # the archive's members intact, its main part cut short
        with zipfile.ZipFile(whole) as src, zipfile.ZipFile(damaged, "w") as dst:
            for info in src.infolist():
                data = src.read(info)
                if info.filename in ("ppt/presentation.xml", "xl/workbook.xml"):
                    data = data[: len(data) // 2]
                dst.writestr(info, data)
        with pytest.raises(DamagedDocument) as caught:
            extract(inspect(damaged, settings), settings)
        assert caught.value.hint and not caught.value.retryable and caught.value.path == str(damaged)
    blank_deck = tmp_path / "blank.pptx"
    pptx.Presentation().save(str(blank_deck))
    with pytest.raises(EmptyInput, match="slides hold no text"):
        extract(inspect(blank_deck, settings), settings)
    blank_book = tmp_path / "blank.xlsx"
    openpyxl.Workbook().save(str(blank_book))
    with pytest.raises(EmptyInput, match="sheets hold no values"):
        extract(inspect(blank_book, settings), settings)
