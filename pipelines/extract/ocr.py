"""OCR: words read from pictures of pages with Tesseract 5, and images as sources of their own.

Tesseract runs as a subprocess (``pytesseract``), one page at a time, with
``OMP_THREAD_LIMIT=1``: on 2 shared cores its OpenMP threads made a page about four times
slower (13 s against 3 s for a 300-dpi page, ``../shared/ECOSYSTEM.md`` section 10), and
inlet already runs sources side by side. The limit is set for the subprocess only: in this
process it would also cap the OpenMP pools of the other libraries loaded later.

Each page read this way records its mean word confidence (Tesseract's 0-100 scale), which the
chunks keep and citations show. Tesseract was chosen over rapidocr (also offline here): it read
a skewed, noisy scan at 99.8 % words right in about 3 s a page, rapidocr at about 97 % in
10-13 s, and it is one system package with per-language data packages.

Images (PNG, JPEG, TIFF with all its pages, WebP, BMP, the first frame of a GIF) are opened with
Pillow, whose size checks run before any pixel is decoded (:func:`probe_image`).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipelines.config import Settings
from pipelines.deadline import check as check_deadline
from pipelines.errors import (
    DamagedDocument,
    EmptyInput,
    OcrUnavailable,
    TooLarge,
    TooLong,
    UnsupportedFormat,
)
from pipelines.records import Extraction, Segment, Source

if TYPE_CHECKING:
    from PIL.Image import Image

IMAGE_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "TIFF": "TIFF", "WEBP": "WebP", "BMP": "BMP", "GIF": "GIF"}
"""Pillow's names of the image formats inlet reads, and how they are shown."""
_MULTI_PAGE = frozenset({"TIFF"})
"""Formats whose frames are pages (a GIF's frames are an animation: only the first is read)."""

_working: set[str] = set()
"""Engine settings (program and languages) found working in this process."""


@dataclass(frozen=True)
class OcrPage:
    """What Tesseract read on one page."""

    text: str
    confidence: float
    """Mean confidence of the words read, 0-100 (0 when none was read)."""
    words: int
    seconds: float


@contextmanager
def _engine(settings: Settings) -> Iterator[None]:
    """Point pytesseract at the configured program, with ``OMP_THREAD_LIMIT=1`` in the
    environment of its subprocess. pytesseract reads both from its module at call time and
    passes the module's ``environ`` to the subprocess, so a copy leaves this process's own
    environment alone."""
    import pytesseract

    pytesseract.pytesseract.tesseract_cmd = settings.ocr_tesseract
    pytesseract.pytesseract.environ = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    yield


def require_engine(settings: Settings) -> None:
    """Raise :class:`OcrUnavailable` unless Tesseract (``settings.ocr_tesseract``) and the data
    for every language in ``settings.ocr_language`` are installed. A working engine is
    remembered for the process; a missing one is looked for again next time (a few
    milliseconds), so installing it needs no restart of the worker."""
    key = f"{settings.ocr_tesseract}\x1f{settings.ocr_language}"
    if key in _working:
        return
    problem = _engine_problem(settings)
    if problem:
        raise OcrUnavailable(problem)
    _working.add(key)


def _engine_problem(settings: Settings) -> str:
    try:
        import pytesseract
    except ImportError:
        return "The pytesseract package is not installed, so scans and images cannot be read"
    if shutil.which(settings.ocr_tesseract) is None:
        return f"The Tesseract OCR engine ({settings.ocr_tesseract}) is not installed, so scans and images cannot be read"
    try:
        with _engine(settings):
            installed = set(pytesseract.get_languages(config=""))
    except Exception as exc:  # noqa: BLE001 - a broken install: report it as missing
        return f"The Tesseract OCR engine does not run: {type(exc).__name__}: {exc}"
    missing = [lang for lang in settings.ocr_language.split("+") if lang not in installed]
    if missing:
        return (
            f"Tesseract has no data for {', '.join(missing)} (installed: {', '.join(sorted(installed))}); "
            f"install tesseract-ocr-{missing[0]}"
        )
    return ""


def read_page(image: Image, settings: Settings) -> OcrPage:
    """OCR one page image: its text (lines and paragraphs as Tesseract found them) and the
    mean confidence of its words."""
    import pytesseract

    require_engine(settings)
    started = time.perf_counter()
    try:
        with _engine(settings):
            data = pytesseract.image_to_data(
                image, lang=settings.ocr_language, output_type=pytesseract.Output.DICT,
                timeout=settings.ocr_page_timeout_s,
            )  # fmt: skip
    except pytesseract.TesseractError as exc:  # the engine ran and refused this picture
        raise DamagedDocument(f"Tesseract could not read a page: {exc}") from exc
    except RuntimeError as exc:  # pytesseract's timeout
        raise TimeoutError(f"Tesseract took over {settings.ocr_page_timeout_s:.0f} s on one page") from exc
    return _assemble(data, time.perf_counter() - started)


def _assemble(data: dict[str, list[Any]], seconds: float) -> OcrPage:
    """Words back into lines (a space between words) and paragraphs (a blank line between)."""
    paragraphs: dict[tuple[int, int], dict[int, list[str]]] = {}
    confidences: list[float] = []
    for i, word in enumerate(data["text"]):
        word = (word or "").strip()
        confidence = float(data["conf"][i])
        if not word or confidence < 0:
            continue
        confidences.append(confidence)
        lines = paragraphs.setdefault((data["block_num"][i], data["par_num"][i]), {})
        lines.setdefault(data["line_num"][i], []).append(word)
    text = "\n\n".join(
        "\n".join(" ".join(words) for _, words in sorted(lines.items())) for lines in paragraphs.values()
    )
    mean = sum(confidences) / len(confidences) if confidences else 0.0
    return OcrPage(text=text, confidence=round(mean, 1), words=len(confidences), seconds=seconds)


# --- images -------------------------------------------------------------------------------
def probe_image(path: str, settings: Settings) -> tuple[str, int]:
    """(format name, number of pages) of an image, checked against the pixel and page limits
    from its header alone; raises ``DamagedDocument`` if Pillow cannot read it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            name = image.format or ""
            if name not in IMAGE_FORMATS:
                raise DamagedDocument(f"The image format {name or 'unknown'} is not read by inlet", path=path)
            pages = int(getattr(image, "n_frames", 1)) if name in _MULTI_PAGE else 1
            width, height = image.size
    except Image.DecompressionBombError as exc:  # Pillow refuses to open it at all: far too big
        raise TooLarge(
            f"The image claims more pixels than can be read safely: {exc}",
            path=path, hint="Scale the image down, or raise INLET_MAX_IMAGE_PIXELS.",
        ) from exc  # fmt: skip
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise DamagedDocument(
            f"Pillow cannot read this image: {type(exc).__name__}: {exc}", path=path
        ) from exc
    if width * height > settings.max_image_pixels:
        raise TooLarge(
            f"The image is {width} x {height} pixels, over the {settings.max_image_pixels:,}-pixel limit",
            path=path, hint="Scale the image down, or raise INLET_MAX_IMAGE_PIXELS.",
        )  # fmt: skip
    if pages > settings.max_ocr_pages:
        raise TooLong(
            f"The image has {pages} pages, over the {settings.max_ocr_pages}-page OCR limit",
            path=path, hint="Split the file, or raise INLET_MAX_OCR_PAGES (and INLET_TIMEOUT_EXTRACT_S).",
        )  # fmt: skip
    return IMAGE_FORMATS[name], pages


def extract_image(source: Source, settings: Settings) -> Extraction:
    """Segments of an image read by OCR: one per page for a multi-page TIFF (``page`` set),
    one for any other image (no page: the image is the citation), each with its confidence."""
    from PIL import Image, ImageSequence

    if not settings.ocr:
        raise UnsupportedFormat("Images are read by OCR, which is off", path=source.path,
                                hint="Set INLET_OCR=true (the default) to read the text of images.")  # fmt: skip
    require_engine(settings)
    started = time.perf_counter()
    segments: list[Segment] = []
    warnings: list[str] = []
    try:
        with Image.open(source.path) as image:
            multi = image.format in _MULTI_PAGE and int(getattr(image, "n_frames", 1)) > 1
            frames = ImageSequence.Iterator(image) if multi else [image]
            for number, frame in enumerate(frames, start=1):
                check_deadline()
                if frame.size[0] * frame.size[1] > settings.max_image_pixels:
                    warnings.append(f"page {number}: over INLET_MAX_IMAGE_PIXELS, not read")
                    continue
                page = read_page(_prepared(frame), settings)
                if page.text.strip():
                    segments.append(
                        Segment(
                            text=page.text, page=number if multi else None, ocr_confidence=page.confidence
                        )
                    )
            source.pages = number if multi else 1
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise DamagedDocument(f"Pillow cannot decode this image: {type(exc).__name__}: {exc}",
                              path=source.path) from exc  # fmt: skip
    if not segments:
        raise EmptyInput("OCR found no words in the image", path=source.path,
                         hint="Check that the image shows text, upright and large enough (about 10 pixels per letter or more).")  # fmt: skip
    return Extraction(
        source=source, segments=segments, seconds=time.perf_counter() - started, warnings=warnings
    )


def _prepared(frame: Image) -> Image:
    """A frame Tesseract reads well: transparency flattened onto white, palette and CMYK
    images as RGB, 16-bit greyscale as 8-bit."""
    from PIL import Image

    if frame.mode in ("RGBA", "LA", "PA") or (frame.mode == "P" and "transparency" in frame.info):
        rgba = frame.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if frame.mode.startswith("I;16"):
        import numpy as np

        return Image.fromarray((np.asarray(frame, dtype=np.uint16) >> 8).astype(np.uint8))
    if frame.mode not in ("RGB", "L", "1"):
        return frame.convert("RGB")
    return frame
