"""PowerPoint presentations (PPTX) with ``python-pptx``: the text of each slide, then its notes.

A slide is the citation unit: its segments carry the slide's number (counted from 1, hidden
slides included, as PowerPoint numbers them) in ``page``, and hits are cited ``deck.pptx,
slide 3``. A slide's title becomes a Markdown-style ``#`` line; the other shapes follow in
reading order (top to bottom, then left to right; a group's shapes in their place), a paragraph
per segment; a table a row per line with its cells joined by ``|``, as in a Word document; the
speaker notes last. A chart gives its title; pictures and media hold no text and are skipped. The title comes
from the presentation's core properties. The XML is parsed by python-pptx's own parser, which
does not resolve external entities.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from pipelines.config import Settings
from pipelines.deadline import Interrupted
from pipelines.deadline import check as check_deadline
from pipelines.errors import DamagedDocument, EmptyInput, InletError
from pipelines.extract.docx import table_lines
from pipelines.extract.html import title_of
from pipelines.records import Extraction, Segment, Source


def _reading_order(shapes: Iterable[Any]) -> list[Any]:
    """Shapes top to bottom, then left to right; a shape without a position keeps its place
    after the placed ones."""
    placed = [s for s in shapes if s.top is not None and s.left is not None]
    unplaced = [s for s in shapes if s.top is None or s.left is None]
    return sorted(placed, key=lambda s: (s.top, s.left)) + unplaced


def _shape_texts(shapes: Iterable[Any]) -> Iterator[str]:
    """The text of ``shapes`` in reading order: a paragraph at a time, a table as one text."""
    from pptx.shapes.group import GroupShape

    for shape in _reading_order(shapes):
        if isinstance(shape, GroupShape):  # (shape_type raises for a shape it does not know)
            yield from _shape_texts(shape.shapes)
        elif getattr(shape, "has_table", False) and shape.has_table:
            rows = ([cell.text for cell in row.cells] for row in shape.table.rows)
            text = table_lines(rows)
            if text:
                yield text
        elif getattr(shape, "has_chart", False) and shape.has_chart:
            chart = shape.chart
            title = (
                chart.chart_title.text_frame.text
                if chart.has_title and chart.chart_title.has_text_frame
                else ""
            )
            if title.strip():
                yield " ".join(title.split())
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            for paragraph in shape.text_frame.paragraphs:
                text = " ".join(paragraph.text.split())
                if text:
                    yield text


def _title_shape(slide: Any) -> Any:
    try:
        return slide.shapes.title
    except (KeyError, AttributeError, ValueError):  # a placeholder whose layout is missing
        return None


def slide_segments(slide: Any, number: int) -> list[Segment]:
    """One slide's segments: its title as a ``#`` line, its other shapes, then its notes."""
    title = _title_shape(slide)
    texts: list[str] = []
    if title is not None and title.has_text_frame and title.text_frame.text.strip():
        texts.append("# " + " ".join(title.text_frame.text.split()))
    others = [s for s in slide.shapes if title is None or s.shape_id != title.shape_id]
    texts.extend(_shape_texts(others))
    if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
        notes = slide.notes_slide.notes_text_frame.text
        texts.extend(" ".join(p.split()) for p in notes.splitlines() if p.strip())
    return [Segment(text=t, page=number) for t in texts]


def extract_pptx(source: Source, settings: Settings) -> Extraction:
    """Segments of a presentation, slide by slide; ``page`` is the slide's number and
    ``source.pages`` the number of slides. ``source.title`` is the presentation's title
    property, if set."""
    import pptx

    started = time.perf_counter()
    try:
        presentation = pptx.Presentation(source.path)
        title = presentation.core_properties.title
        segments: list[Segment] = []
        slides = list(presentation.slides)
        for number, slide in enumerate(slides, start=1):
            check_deadline()
            segments.extend(slide_segments(slide, number))
    except (MemoryError, InletError, Interrupted):
        raise
    except Exception as exc:  # noqa: BLE001 - zipfile, lxml and python-pptx each raise their own
        raise DamagedDocument(
            f"python-pptx cannot read this presentation: {type(exc).__name__}: {exc}", path=source.path
        ) from exc
    source.title = title_of(title)
    source.pages = len(slides)
    if not segments:
        raise EmptyInput("The presentation's slides hold no text", path=source.path)
    return Extraction(source=source, segments=segments, seconds=time.perf_counter() - started)
