"""Extractors by kind: ``extract(source, settings)`` picks the right one.

``pdf`` → :func:`pipelines.extract.pdf.extract_pdf`; ``text`` → :func:`.text.extract_text`;
``html`` → :func:`.html.extract_html`; ``docx`` → :func:`.docx.extract_docx`;
``epub`` → :func:`.epub.extract_epub`; ``image`` → :func:`.ocr.extract_image`;
``audio`` and ``video`` → :func:`.audio.transcribe` (the video's audio track).
"""

from __future__ import annotations

from collections.abc import Callable

from pipelines.config import Settings
from pipelines.records import Extraction, Source, is_media


def _pdf(source: Source, settings: Settings) -> Extraction:
    from pipelines.extract.pdf import extract_pdf

    return extract_pdf(source, settings)


def _text(source: Source, settings: Settings) -> Extraction:
    from pipelines.extract.text import extract_text

    return extract_text(source, settings)


def _html(source: Source, settings: Settings) -> Extraction:
    from pipelines.extract.html import extract_html

    return extract_html(source, settings)


def _docx(source: Source, settings: Settings) -> Extraction:
    from pipelines.extract.docx import extract_docx

    return extract_docx(source, settings)


def _epub(source: Source, settings: Settings) -> Extraction:
    from pipelines.extract.epub import extract_epub

    return extract_epub(source, settings)


def _image(source: Source, settings: Settings) -> Extraction:
    from pipelines.extract.ocr import extract_image

    return extract_image(source, settings)


def _media(source: Source, settings: Settings) -> Extraction:
    from pipelines.extract.audio import transcribe

    return transcribe(source, settings)


EXTRACTORS: dict[str, Callable[[Source, Settings], Extraction]] = {
    "pdf": _pdf,
    "text": _text,
    "html": _html,
    "docx": _docx,
    "epub": _epub,
    "image": _image,
    "audio": _media,
    "video": _media,
}


def extract(source: Source, settings: Settings) -> Extraction:
    """The segments of one source, by the extractor for its kind, with the language of its text
    (recordings: the transcriber's; other kinds: :func:`pipelines.language.detect_segments`)."""
    extraction = EXTRACTORS[source.kind](source, settings)
    if extraction.language is None and not is_media(source.kind):
        from pipelines.language import detect_segments

        extraction.language = detect_segments(extraction.segments)
    return extraction
