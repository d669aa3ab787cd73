"""Excel workbooks (XLSX, XLSM) with ``openpyxl``: every worksheet's cells, row by row.

A worksheet is the citation unit: its segments carry the sheet's number in the workbook
(counted from 1, hidden sheets included) in ``page``, and hits are cited ``budget.xlsx,
sheet 2``. Each sheet starts with its name as a Markdown-style ``#`` line; then a row per line,
its non-empty cells joined by ``|`` as in a Word document's table, rows gathered into segments
of about a paragraph. A cell holding a formula gives the value Excel last saved for it (a
workbook never opened in a spreadsheet program has none, and the cell is skipped); numbers are
written as Excel shows them without a number format, dates as ISO dates. Chart sheets and
pictures hold no cells and are skipped; links to other workbooks are not followed. A workbook
of more than ``max_sheet_cells`` non-empty cells is refused (``too_long``) as it is read, so
a sheet of millions of numbers does not occupy the embedder for hours. The title comes from the
workbook's properties.
"""

from __future__ import annotations

import datetime as dt
import time
import warnings
from collections.abc import Iterable
from typing import Any

from pipelines.config import Settings
from pipelines.deadline import Interrupted
from pipelines.deadline import check as check_deadline
from pipelines.errors import DamagedDocument, EmptyInput, InletError, TooLong
from pipelines.extract.html import title_of
from pipelines.records import Extraction, Segment, Source

_SEGMENT_CHARS = 1000
"""Rows are gathered into segments of about this many characters."""


def cell_text(value: object, number_format: str = "General") -> str:
    """A cell's value as text: ``""`` for an empty cell, whole numbers without a decimal point,
    others with up to 15 significant digits (as Excel shows them), a number formatted as a
    percentage as one, dates as ISO dates (with the time when there is one), booleans as
    ``TRUE`` / ``FALSE``.

    >>> cell_text(1200.0), cell_text(0.1 + 0.2), cell_text(True), cell_text(None)
    ('1200', '0.3', 'TRUE', '')
    >>> cell_text(0.125, "0.0%"), cell_text(0.05, "0%")
    ('12.5%', '5%')
    >>> cell_text(dt.datetime(2026, 3, 1)), cell_text(dt.datetime(2026, 3, 1, 12, 30)), cell_text("  a\\n b ")
    ('2026-03-01', '2026-03-01 12:30:00', 'a b')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float) and number_format.endswith("%"):
        return cell_text(round(float(value) * 100, 10)) + "%"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else format(value, ".15g")
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return " ".join(str(value).split())


def row_line(cells: Iterable[Any]) -> str:
    """One row of openpyxl's cells as a line: its non-empty cells joined by `` | ``."""
    texts = (cell_text(c.value, getattr(c, "number_format", None) or "General") for c in cells)
    return " | ".join(t for t in texts if t)


class SheetReader:
    """Turns a workbook's rows into segments, sheet by sheet (the sheet's name as a ``#`` line,
    then rows gathered into segments of about a paragraph), and counts its cells with a value
    against ``max_sheet_cells`` (``too_long`` once passed). Used for Excel and OpenDocument
    spreadsheets alike."""

    def __init__(self, source: Source, settings: Settings) -> None:
        self.path, self.limit = source.path, settings.max_sheet_cells
        self.cells = 0
        self.segments: list[Segment] = []

    def sheet(self, name: str, number: int, lines: Iterable[str]) -> None:
        """Add one sheet: its name and its non-empty row lines (cells joined by `` | ``)."""
        check_deadline()
        self.segments.append(Segment(text="# " + " ".join(name.split()), page=number))
        gathered: list[str] = []
        size = 0
        for line in lines:
            if not line:
                continue
            self.cells += line.count(" | ") + 1
            if self.cells > self.limit:
                raise TooLong(
                    f"The workbook holds more than {self.limit:,} cells with a value",
                    path=self.path,
                    hint="Index a smaller export of the data, or raise INLET_MAX_SHEET_CELLS.",
                )
            gathered.append(line)
            size += len(line) + 1
            if size >= _SEGMENT_CHARS:
                check_deadline()
                self.segments.append(Segment(text="\n".join(gathered), page=number))
                gathered, size = [], 0
        if gathered:
            self.segments.append(Segment(text="\n".join(gathered), page=number))


def extract_xlsx(source: Source, settings: Settings) -> Extraction:
    """Segments of a workbook, sheet by sheet; ``page`` is the sheet's number and
    ``source.pages`` the number of worksheets. ``source.title`` is the workbook's title
    property, if set."""
    import openpyxl

    started = time.perf_counter()
    reader = SheetReader(source, settings)
    try:  # a file object: openpyxl refuses a path whose name does not end in .xlsx
        with open(source.path, "rb") as fh, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # parts it drops: extensions, data validation
            workbook = openpyxl.load_workbook(fh, read_only=True, data_only=True, keep_links=False)
            try:
                title = workbook.properties.title
                sheets = workbook.worksheets
                for number, sheet in enumerate(sheets, start=1):
                    sheet.reset_dimensions()  # rows as stored, not padded to a claimed size
                    reader.sheet(sheet.title, number, map(row_line, sheet.iter_rows()))
            finally:
                workbook.close()
    except (MemoryError, InletError, Interrupted):
        raise
    except Exception as exc:  # noqa: BLE001 - zipfile, lxml and openpyxl each raise their own
        raise DamagedDocument(
            f"openpyxl cannot read this workbook: {type(exc).__name__}: {exc}", path=source.path
        ) from exc
    source.title = title_of(title)
    source.pages = len(sheets)
    if reader.cells == 0:
        raise EmptyInput("The workbook's sheets hold no values", path=source.path)
    segments = reader.segments
    return Extraction(source=source, segments=segments, seconds=time.perf_counter() - started)
