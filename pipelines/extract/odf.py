"""OpenDocument files (LibreOffice, OpenOffice): text documents (ODT), spreadsheets (ODS) and
presentations (ODP), read from their ``content.xml`` with lxml.

- **odt**: headings (as Markdown-style ``#`` lines), paragraphs, list items and tables (a row per
  line, cells joined by ``|``, as in a Word document) in document order.
- **ods**: sheet by sheet like an Excel workbook (:class:`pipelines.extract.xlsx.SheetReader`):
  each cell as the spreadsheet displays it (ODF stores the displayed text with the value), so a
  percentage reads ``25%`` and a date as formatted. A row or cell repeated N times (how ODF
  writes runs of equal cells) counts N times when it holds text; an empty run, such as the
  million empty rows LibreOffice writes after formatting a whole column, is skipped without
  being expanded.
- **odp**: slide by slide, each slide's title as a heading, then its other frames and tables in
  document order, then its speaker notes.

The title comes from ``meta.xml`` (``dc:title``). The XML is parsed without entity resolution or
network access; each part is read at most its declared size, which
:func:`pipelines.sources.probe_zip` has checked.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Iterator
from typing import Any

from pipelines.config import Settings
from pipelines.deadline import Interrupted
from pipelines.deadline import check as check_deadline
from pipelines.errors import DamagedDocument, EmptyInput, InletError
from pipelines.extract.docx import table_lines
from pipelines.extract.html import safe_xml, title_of
from pipelines.extract.xlsx import SheetReader
from pipelines.records import Extraction, Segment, Source

_NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "presentation": "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0",
    "dc": "http://purl.org/dc/elements/1.1/",
}
_REPEAT_CAP = 1000
"""A run of more equal rows or cells than this, with text, is written this many times."""


def _q(name: str) -> str:
    """``"text:p"`` as lxml's ``{namespace}p``."""
    prefix, local = name.split(":")
    return f"{{{_NS[prefix]}}}{local}"


_P, _H, _LIST, _ITEM, _TABLE = (
    _q("text:p"),
    _q("text:h"),
    _q("text:list"),
    _q("text:list-item"),
    _q("table:table"),
)
_ROW, _CELL, _SPACE, _TAB, _BREAK = (
    _q("table:table-row"), _q("table:table-cell"), _q("text:s"), _q("text:tab"), _q("text:line-break"),
)  # fmt: skip
_SECTIONS = {_q("text:section"), _q("text:list-header"), _q("table:table-header-rows"), _q("table:table-rows"),
             _q("table:table-row-group"), _q("draw:text-box"), _q("draw:frame"), _q("draw:g"),
             _q("draw:custom-shape"), _q("presentation:notes")}  # fmt: skip


def inline_text(element: Any) -> str:
    """The text of a paragraph or heading: its spans, with ``text:s`` as spaces, tabs as spaces
    and line breaks as spaces too, its whitespace made single."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if child.tag == _SPACE:
                parts.append(" " * min(int(child.get(_q("text:c"), "1") or 1), 10))
            elif child.tag in (_TAB, _BREAK):
                parts.append(" ")
            elif child.tag not in (_q("office:annotation"), _q("draw:frame")):  # a comment; a text box
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(element)
    return " ".join("".join(parts).split())


def _repeat(element: Any, attribute: str) -> int:
    try:
        return max(1, int(element.get(_q(attribute), "1")))
    except ValueError:
        return 1


def _cell_texts(row: Any) -> list[str]:
    """A table row's cell texts, a repeated cell with text written once per repeat (capped)."""
    texts: list[str] = []
    for cell in row:
        if cell.tag != _CELL:
            continue  # covered cells (under a merge) and anything else
        text = " ".join(t for p in cell.iter(_P, _H) if (t := inline_text(p)))
        if text:
            texts.extend([text] * min(_repeat(cell, "table:number-columns-repeated"), _REPEAT_CAP))
    return texts


def _rows(table: Any) -> Iterator[list[str]]:
    """The rows of a table in order (inside header rows and row groups too), each repeated row
    with text as many times as it repeats (capped); empty runs are not expanded."""
    for row in table.iter(_ROW):
        if _enclosing_table(row) is not table:
            continue  # a row of a table nested in a cell belongs to that cell's text
        texts = _cell_texts(row)
        if texts:
            for _ in range(min(_repeat(row, "table:number-rows-repeated"), _REPEAT_CAP)):
                yield texts


def _enclosing_table(row: Any) -> Any:
    node = row.getparent()
    while node is not None and node.tag != _TABLE:
        node = node.getparent()
    return node


def blocks(container: Any) -> Iterator[str]:
    """The text blocks of a document part in order: ``#`` headings, paragraphs, list items and
    tables (a row per line)."""
    for child in container:
        if child.tag == _H:
            text = inline_text(child)
            if text:
                level = min(max(_repeat(child, "text:outline-level"), 1), 6)
                yield "#" * level + " " + text
        elif child.tag == _P:
            text = inline_text(child)
            if text:
                yield text
            for frame in child.iter(_q("draw:text-box")):  # a text box anchored in the paragraph
                yield from blocks(frame)
        elif child.tag == _TABLE:
            text = table_lines(_rows(child))
            if text:
                yield text
        elif child.tag in (_LIST, _ITEM) or child.tag in _SECTIONS:
            yield from blocks(child)


def _title(archive: zipfile.ZipFile) -> str | None:
    if "meta.xml" not in archive.namelist():
        return None
    element = safe_xml(archive.read("meta.xml")).find(f".//{_q('dc:title')}")
    return title_of(element.text if element is not None else None)


def _body(archive: zipfile.ZipFile, part: str) -> Any:
    root = safe_xml(archive.read("content.xml"))
    body = root.find(f"{_q('office:body')}/{_q(part)}")
    if body is None:
        raise DamagedDocument(f"The document's content.xml has no {part} body")
    return body


def _text_segments(body: Any) -> list[Segment]:
    segments: list[Segment] = []
    for text in blocks(body):
        check_deadline()
        segments.append(Segment(text=text))
    return segments


def _sheet_segments(body: Any, source: Source, settings: Settings) -> list[Segment]:
    reader = SheetReader(source, settings)
    tables = body.findall(_TABLE)
    for number, table in enumerate(tables, start=1):
        reader.sheet(
            table.get(_q("table:name"), f"Sheet{number}"), number, (" | ".join(r) for r in _rows(table))
        )
    source.pages = len(tables)
    if reader.cells == 0:
        raise EmptyInput("The spreadsheet's sheets hold no values", path=source.path)
    return reader.segments


def _slide_segments(body: Any, source: Source) -> list[Segment]:
    segments: list[Segment] = []
    pages = body.findall(_q("draw:page"))
    for number, page in enumerate(pages, start=1):
        check_deadline()
        title: list[str] = []
        others: list[str] = []
        notes: list[str] = []
        for child in page:
            texts = list(blocks(child))  # a frame's text box or table, a shape's text, a group's
            if child.tag == _q("presentation:notes"):
                notes.extend(texts)
            elif child.get(_q("presentation:class")) == "title":
                title.extend("# " + t.lstrip("# ") for t in texts)
            else:
                others.extend(texts)
        segments.extend(Segment(text=t, page=number) for t in title + others + notes)
    source.pages = len(pages)
    return segments


_PARTS = {"odt": "office:text", "ods": "office:spreadsheet", "odp": "office:presentation"}
_WHAT = {"odt": "text document", "ods": "spreadsheet", "odp": "presentation"}


def extract_odf(source: Source, settings: Settings) -> Extraction:
    """Segments of an OpenDocument file of ``source.kind`` (``odt``, ``ods`` or ``odp``);
    ``page`` is a sheet's or a slide's number. ``source.title`` is its ``dc:title``."""
    started = time.perf_counter()
    try:
        with zipfile.ZipFile(source.path) as archive:
            source.title = _title(archive)
            body = _body(archive, _PARTS[source.kind])
        if source.kind == "ods":
            segments = _sheet_segments(body, source, settings)
        elif source.kind == "odp":
            segments = _slide_segments(body, source)
        else:
            segments = _text_segments(body)
    except (MemoryError, Interrupted):
        raise
    except InletError as exc:
        exc.path = exc.path or source.path
        raise
    except Exception as exc:  # noqa: BLE001 - zipfile and lxml raise many types for a broken file
        raise DamagedDocument(
            f"The OpenDocument {_WHAT[source.kind]} cannot be read: {type(exc).__name__}: {exc}",
            path=source.path,
        ) from exc
    if not segments:
        raise EmptyInput(f"The {_WHAT[source.kind]} holds no text", path=source.path)
    return Extraction(source=source, segments=segments, seconds=time.perf_counter() - started)
