"""PDF text, page by page, with pypdf.

Encrypted files are opened with the configured passwords (an empty user password needs none);
damaged files are read as far as pypdf can; a PDF whose pages hold no text is reported as
having no text layer (OCR is not part of this stage).
"""

from __future__ import annotations

import logging
import time

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PdfReadError, PyPdfError

from pipelines.config import Settings
from pipelines.deadline import check as check_deadline
from pipelines.errors import DamagedPdf, EmptyInput, EncryptedPdf, NoTextLayer, TooLong
from pipelines.records import Extraction, Segment, Source

log = logging.getLogger("inlet.extract.pdf")

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
                continue
            text = text.replace("\x00", "").strip()
            if text:
                segments.append(Segment(text=text, page=number))
    finally:
        _PYPDF_LOGGER.removeHandler(collector)
    source.pages = n_pages
    if not segments:
        if unreadable == n_pages:
            raise DamagedPdf(
                f"None of the PDF's {n_pages} pages could be read",
                path=source.path,
                detail="\n".join(collector.messages[-20:]),
            )
        raise NoTextLayer(f"The PDF's {n_pages} page(s) have no text layer", path=source.path)
    if not any(s.text.strip() for s in segments):
        raise EmptyInput("The PDF holds no text", path=source.path)
    return Extraction(
        source=source,
        segments=segments,
        seconds=time.perf_counter() - started,
        warnings=collector.messages[:50],
    )
