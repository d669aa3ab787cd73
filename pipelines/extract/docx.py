"""Word documents (DOCX) with ``python-docx``: paragraphs, headings and tables in document order.

Headings become Markdown-style ``#`` lines (so the chunker and the vocabulary see them as
titles); a table becomes one segment, a row per line with its cells separated by ``|``, so a
cell is found together with its row. The document's title comes from its core properties.
The XML is parsed by python-docx's own parser, which does not resolve external entities.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from pipelines.config import Settings
from pipelines.deadline import check as check_deadline
from pipelines.errors import DamagedDocument, EmptyInput
from pipelines.extract.html import title_of
from pipelines.records import Extraction, Segment, Source

if TYPE_CHECKING:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

_HEADING = re.compile(r"^(?:heading|überschrift|titre)\s*(\d)$", re.IGNORECASE)


def _heading_level(paragraph: Paragraph) -> int | None:
    """1 for the ``Title`` style, 1-9 for ``Heading N``, else ``None``."""
    try:
        name = (paragraph.style.name if paragraph.style is not None else "") or ""
    except (KeyError, AttributeError, ValueError):  # a style id missing from styles.xml
        return None
    if name.lower() == "title":
        return 1
    match = _HEADING.match(name.strip())
    return int(match.group(1)) if match else None


def table_lines(rows: Iterable[Iterable[str]]) -> str:
    """A table as text: a row per line, its non-empty cells joined by `` | `` (a merged cell,
    which repeats across its span, once).

    >>> table_lines([["Site", "Depth"], ["Kelpwater basin", "3.4 m"], ["", ""]])
    'Site | Depth\\nKelpwater basin | 3.4 m'
    """
    lines: list[str] = []
    for row in rows:
        cells: list[str] = []
        for cell in row:
            text = " ".join(cell.split())
            if text and (not cells or cells[-1] != text):
                cells.append(text)
        if cells:
            lines.append(" | ".join(cells))
    return "\n".join(lines)


def _table_text(table: Table) -> str:
    return table_lines([cell.text for cell in row.cells] for row in table.rows)


def extract_docx(source: Source, settings: Settings) -> Extraction:
    """Segments of a Word document in reading order: one per paragraph (headings marked with
    ``#``) and one per table. ``source.title`` is the document's title property, if set."""
    import docx
    from docx.table import Table

    started = time.perf_counter()
    try:
        document = docx.Document(source.path)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - zipfile, lxml and python-docx each raise their own
        raise DamagedDocument(
            f"python-docx cannot read this document: {type(exc).__name__}: {exc}", path=source.path
        ) from exc
    source.title = title_of(document.core_properties.title)
    segments: list[Segment] = []
    for block in document.iter_inner_content():
        check_deadline()
        if isinstance(block, Table):
            text = _table_text(block)
        else:
            text = block.text.strip()
            level = _heading_level(block)
            if text and level:
                text = "#" * level + " " + " ".join(text.split())
        if text:
            segments.append(Segment(text=text))
    if not segments:
        raise EmptyInput("The document holds no text", path=source.path)
    return Extraction(source=source, segments=segments, seconds=time.perf_counter() - started)
