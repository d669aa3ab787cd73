"""Extractors by kind: ``extract(source, settings)`` picks the right one.

``pdf`` → :func:`pipelines.extract.pdf.extract_pdf`; ``text`` → :func:`.text.extract_text`;
``html`` → :func:`.html.extract_html`; ``docx`` → :func:`.docx.extract_docx`;
``pptx`` → :func:`.pptx.extract_pptx`; ``xlsx`` → :func:`.xlsx.extract_xlsx`;
``odt``, ``ods``, ``odp`` → :func:`.odf.extract_odf`;
``epub`` → :func:`.epub.extract_epub`; ``email`` → :func:`.mail.extract_email`; ``image`` → :func:`.ocr.extract_image`;
``audio`` → :func:`.audio.transcribe`; ``video`` → :func:`.audio.transcribe` too, and a video with no sound track or no speech
is described in one passage instead (:func:`.video.without_speech`).

PDFs, web pages, Office documents, EPUB, e-mail and images are parsed in a child process with a memory and a time
limit (:func:`isolated`, settings ``extract_memory_mb`` and ``timeout_extract_s``), so that a
bomb ends as a classified error and the worker goes on; text files are read in the worker
(decoding them is bounded by their size limit), and the sound of media is decoded block by block
in such a child (``pipelines.isolate.stream_isolated``, the same memory limit) while the worker
transcribes it in windows. Each extraction carries the peak memory of the process that made it
(``peak_mb``: the child's during the parse, else the worker's high-water mark).
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from collections.abc import Callable

from pipelines.config import Settings
from pipelines.errors import InletError
from pipelines.memory import peak_mb
from pipelines.records import Extraction, Source, is_media


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
    from pipelines.isolate import run_measured

    extraction, peak = run_measured(
        extractor, source, settings, memory_mb=settings.extract_memory_mb, what=what, crashed=crashed,
        timeout_s=settings.timeout_extract_s,
    )  # fmt: skip
    extraction.peak_mb = peak
    for field in dataclasses.fields(source):
        setattr(source, field.name, getattr(extraction.source, field.name))
    extraction.source = source
    return extraction


def _bounded(
    extractor: Callable[[Source, Settings], Extraction], source: Source, settings: Settings, *, what: str
) -> Extraction:
    """An untrusted document parsed under :func:`isolated` (unless ``extract_memory_mb`` is 0):
    a crash of its parser ends as ``damaged_document``."""
    if not settings.extract_memory_mb:
        return extractor(source, settings)
    from pipelines.errors import DamagedDocument

    return isolated(extractor, source, settings, what=what, crashed=DamagedDocument)


def _text(source: Source, settings: Settings) -> Extraction:
    from pipelines.extract.text import extract_text

    return extract_text(source, settings)


def _parsed_in_child(module: str, function: str, what: str) -> Callable[[Source, Settings], Extraction]:
    """The extractor ``module.function`` (imported when first used), run under :func:`_bounded`:
    an untrusted document of the kind ``what`` names."""

    def extract_bounded(source: Source, settings: Settings) -> Extraction:
        extractor = getattr(importlib.import_module(module), function)
        return _bounded(extractor, source, settings, what=what)

    return extract_bounded


def _media(source: Source, settings: Settings) -> Extraction:
    from pipelines.extract.audio import transcribe

    return transcribe(source, settings)


def _video(source: Source, settings: Settings) -> Extraction:
    """A video's transcribed sound; without a sound track (``no_audio_track``) or speech
    (``no_speech``), the passage :func:`pipelines.extract.video.without_speech` writes."""
    from pipelines.errors import NoAudioTrack, NoSpeech
    from pipelines.extract.audio import transcribe
    from pipelines.extract.video import without_speech

    started = time.perf_counter()
    try:
        return transcribe(source, settings)
    except (NoAudioTrack, NoSpeech) as exc:
        return without_speech(source, exc, seconds=time.perf_counter() - started)


EXTRACTORS: dict[str, Callable[[Source, Settings], Extraction]] = {
    "pdf": _pdf,
    "text": _text,
    "html": _parsed_in_child("pipelines.extract.html", "extract_html", "web page"),
    "docx": _parsed_in_child("pipelines.extract.docx", "extract_docx", "DOCX document"),
    "pptx": _parsed_in_child("pipelines.extract.pptx", "extract_pptx", "PowerPoint presentation"),
    "xlsx": _parsed_in_child("pipelines.extract.xlsx", "extract_xlsx", "Excel workbook"),
    **dict.fromkeys(
        ("odt", "ods", "odp"), _parsed_in_child("pipelines.extract.odf", "extract_odf", "OpenDocument file")
    ),
    "epub": _parsed_in_child("pipelines.extract.epub", "extract_epub", "EPUB book"),
    "email": _parsed_in_child("pipelines.extract.mail", "extract_email", "e-mail message"),
    "image": _parsed_in_child("pipelines.extract.ocr", "extract_image", "image"),
    "audio": _media,
    "video": _video,
}


def extract(source: Source, settings: Settings) -> Extraction:
    """The segments of one source, by the extractor for its kind, with the language of its text
    (recordings: the transcriber's; other kinds: :func:`pipelines.language.detect_segments`)."""
    extraction = EXTRACTORS[source.kind](source, settings)
    if extraction.peak_mb is None:  # read in this process
        extraction.peak_mb = peak_mb()
    if extraction.language is None and not is_media(source.kind):
        from pipelines.language import detect_segments

        extraction.language = detect_segments(extraction.segments)
    return extraction
