"""Extractors by kind: ``extract(source, settings)`` picks the right one.

``pdf`` → :func:`pipelines.extract.pdf.extract_pdf`; ``text`` → :func:`.text.extract_text`;
``audio`` and ``video`` → :func:`.audio.transcribe` (the video's audio track).

A PDF is parsed in a child process with a memory and a time limit (:func:`isolated`, settings
``extract_memory_mb`` and ``timeout_extract_s``), so that a bomb ends as a classified error and
the worker goes on; text files are read in the worker (decoding them is bounded by their size
limit), and media is decoded in windows by the transcriber.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from pipelines.config import Settings
from pipelines.errors import InletError
from pipelines.records import Extraction, Source


def _pdf(source: Source, settings: Settings) -> Extraction:
    from pipelines.extract.pdf import extract_pdf

    if not settings.extract_memory_mb:
        return extract_pdf(source, settings)
    from pipelines.errors import DamagedPdf

    return isolated(extract_pdf, source, settings, what="PDF", crashed=DamagedPdf)


def isolated(
    extractor: Callable[[Source, Settings], Extraction],
    source: Source,
    settings: Settings,
    *,
    what: str,
    crashed: type[InletError],
) -> Extraction:
    """``extractor(source, settings)`` in a child process bounded by ``extract_memory_mb`` and
    ``timeout_extract_s`` (``pipelines.isolate``); what the extractor learnt about the source
    (its pages) is copied back to ``source``."""
    from pipelines.isolate import run_isolated

    extraction = run_isolated(
        extractor, source, settings, memory_mb=settings.extract_memory_mb, what=what, crashed=crashed,
        timeout_s=settings.timeout_extract_s,
    )  # fmt: skip
    for field in dataclasses.fields(source):
        setattr(source, field.name, getattr(extraction.source, field.name))
    extraction.source = source
    return extraction


def _text(source: Source, settings: Settings) -> Extraction:
    from pipelines.extract.text import extract_text

    return extract_text(source, settings)


def _media(source: Source, settings: Settings) -> Extraction:
    from pipelines.extract.audio import transcribe

    return transcribe(source, settings)


EXTRACTORS: dict[str, Callable[[Source, Settings], Extraction]] = {
    "pdf": _pdf,
    "text": _text,
    "audio": _media,
    "video": _media,
}


def extract(source: Source, settings: Settings) -> Extraction:
    """The segments of one source, by the extractor for its kind."""
    return EXTRACTORS[source.kind](source, settings)
