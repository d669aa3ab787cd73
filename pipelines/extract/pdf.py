"""PDF text, page by page, with pypdf.

Encrypted files are opened with the configured passwords (an empty user password needs none);
damaged files are read as far as pypdf can. A page whose text layer is missing or almost empty
(fewer than ``ocr_min_chars`` characters) is rendered with pdfium at ``ocr_dpi`` and read by
OCR (:mod:`pipelines.extract.ocr`); its segment records the OCR confidence. A PDF in which
neither the text layer nor OCR gives any word is reported as having no text layer.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PdfReadError, PyPdfError

from pipelines.config import Settings
from pipelines.deadline import check as check_deadline
from pipelines.errors import DamagedPdf, EmptyInput, EncryptedPdf, NoTextLayer, OcrUnavailable, TooLong
from pipelines.records import Extraction, Segment, Source

if TYPE_CHECKING:
    from PIL.Image import Image
    from pypdfium2 import PdfDocument, PdfPage

    from pipelines.extract.ocr import OcrPage

log = logging.getLogger("inlet.extract.pdf")

# pdfium is not thread-safe and the flows extract several sources in threads: one render at a
# time (0.2 s a page; the OCR itself runs in Tesseract's own process, outside the lock).
_PDFIUM_LOCK = threading.Lock()

# pypdf logs every recoverable oddity of a damaged file; collect them as warnings instead.
_PYPDF_LOGGER = logging.getLogger("pypdf")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _open(source: Source, passwords: list[str]) -> PdfReader:
    try:
        reader = PdfReader(source.path, strict=False)
    except FileNotDecryptedError as exc:
        raise EncryptedPdf("The PDF is encrypted", path=source.path) from exc
    except NotImplementedError as exc:  # an encryption handler other than the standard one
        raise DamagedPdf(f"The PDF's encryption could not be handled: {exc}", path=source.path) from exc
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise DamagedPdf(f"pypdf cannot read this PDF: {exc}", path=source.path) from exc
    if reader.is_encrypted:
        # An owner-only password (empty user password) opens with "".
        for candidate in ["", *passwords]:
            try:
                if reader.decrypt(candidate):
                    return reader
            except (PdfReadError, PyPdfError, NotImplementedError) as exc:
                raise DamagedPdf(
                    f"The PDF's encryption could not be handled: {exc}", path=source.path
                ) from exc
        tried = (
            "no password was configured" if not passwords else "none of the configured passwords opened it"
        )
        raise EncryptedPdf(f"The PDF is password-protected and {tried}", path=source.path)
    return reader


def extract_pdf(source: Source, settings: Settings) -> Extraction:
    """Segments of a PDF, one per page with text; page numbers start at 1."""
    started = time.perf_counter()
    collector = _Collect()
    _PYPDF_LOGGER.addHandler(collector)
    try:
        reader = _open(source, settings.pdf_passwords)
        try:
            n_pages = len(reader.pages)
        except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, RecursionError) as exc:
            raise DamagedPdf(f"pypdf cannot find the pages of this PDF: {exc}", path=source.path) from exc
        if n_pages == 0:
            raise DamagedPdf("The PDF has no readable pages", path=source.path)
        if n_pages > settings.max_pdf_pages:
            raise TooLong(
                f"The PDF has {n_pages} pages, over the {settings.max_pdf_pages}-page limit",
                path=source.path,
            )
        segments: list[Segment] = []
        scanned: dict[int, str] = {}  # page number -> its (short or empty) text layer
        unreadable = 0
        for number in range(1, n_pages + 1):
            check_deadline()
            try:
                text = reader.pages[number - 1].extract_text() or ""
            except MemoryError:  # not a damaged page: the limit of the process that parses it
                raise
            except Exception as exc:  # noqa: BLE001 - a damaged page must not sink the document
                unreadable += 1
                collector.messages.append(f"page {number}: {type(exc).__name__}: {exc}")
                if settings.ocr:
                    scanned[number] = ""
                continue
            text = text.replace("\x00", "").strip()
            if settings.ocr and len(text) < settings.ocr_min_chars:
                scanned[number] = text
            elif text:
                segments.append(Segment(text=text, page=number))
    finally:
        _PYPDF_LOGGER.removeHandler(collector)
    source.pages = n_pages
    if scanned:
        read = _ocr_pages(source, settings, sorted(scanned), collector.messages, need=not segments)
        for number, layer in scanned.items():
            page = read.get(number)
            if page is not None and len(page.text.strip()) > len(layer):
                segments.append(Segment(text=page.text, page=number, ocr_confidence=page.confidence))
            elif layer:
                segments.append(Segment(text=layer, page=number))
        segments.sort(key=lambda s: s.page or 0)
    if not segments:
        if unreadable == n_pages:
            rendered = ", nor rendered for OCR" if scanned else ""
            raise DamagedPdf(
                f"None of the PDF's {n_pages} pages could be read{rendered}",
                path=source.path,
                detail="\n".join(collector.messages[-20:]),
            )
        read_by = ", and OCR read no words on them" if scanned else ""
        raise NoTextLayer(f"The PDF's {n_pages} page(s) have no text layer{read_by}", path=source.path)
    if not any(s.text.strip() for s in segments):
        raise EmptyInput("The PDF holds no text", path=source.path)
    return Extraction(
        source=source,
        segments=segments,
        seconds=time.perf_counter() - started,
        warnings=collector.messages[:50],
    )


def _ocr_pages(
    source: Source, settings: Settings, numbers: list[int], warnings: list[str], *, need: bool
) -> dict[int, OcrPage]:
    """Render the pages ``numbers`` (from 1) and read them by OCR, at most ``max_ocr_pages``.

    Without the OCR engine, ``need`` decides: a PDF with no other text fails with
    ``OcrUnavailable`` (its hint says how to install Tesseract); otherwise the pages are left
    as they are and a warning says so.
    """
    from pipelines.extract.ocr import read_page, require_engine

    try:
        require_engine(settings)
    except OcrUnavailable as exc:
        if need:
            exc.path = source.path
            raise
        warnings.append(f"pages {_span(numbers)} not read by OCR: {exc.message}")
        return {}
    if len(numbers) > settings.max_ocr_pages:
        warnings.append(
            f"pages {_span(numbers[settings.max_ocr_pages :])} not read by OCR: over INLET_MAX_OCR_PAGES "
            f"({settings.max_ocr_pages})"
        )
        numbers = numbers[: settings.max_ocr_pages]
    read: dict[int, OcrPage] = {}
    with _PDFIUM_LOCK:
        document = _open_pdfium(source, settings)
    try:
        for number in numbers:
            check_deadline()
            try:
                with _PDFIUM_LOCK:
                    image = _render(document[number - 1], settings)
            except Exception as exc:  # noqa: BLE001 - one page pdfium cannot draw
                warnings.append(f"page {number}: not rendered for OCR: {type(exc).__name__}: {exc}")
                continue
            read[number] = read_page(image, settings)
    finally:
        with _PDFIUM_LOCK:
            document.close()
    return read


def _open_pdfium(source: Source, settings: Settings) -> PdfDocument:
    """The PDF opened by pdfium, with the first password that opens it."""
    from pypdfium2 import PdfDocument, PdfiumError

    last: Exception | None = None
    for password in [None, *settings.pdf_passwords]:
        try:
            return PdfDocument(source.path, password=password)
        except PdfiumError as exc:
            last = exc
    raise DamagedPdf(f"pdfium cannot open this PDF to render its scanned pages: {last}", path=source.path)


def _render(page: PdfPage, settings: Settings) -> Image:
    """A page as a Pillow image at ``ocr_dpi``, scaled down to stay within ``max_image_pixels``."""
    width, height = page.get_size()
    scale = settings.ocr_dpi / 72
    pixels = width * scale * height * scale
    if pixels > settings.max_image_pixels:
        scale *= (settings.max_image_pixels / pixels) ** 0.5
    try:
        image: Image = page.render(scale=scale, grayscale=True).to_pil()
        return image
    finally:
        page.close()


def _span(numbers: list[int]) -> str:
    """``3-5, 9`` for [3, 4, 5, 9]."""
    runs: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(runs)
