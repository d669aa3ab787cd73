"""EPUB e-books: the chapters of the spine in reading order, each reduced to its text.

An EPUB is a ZIP archive: ``META-INF/container.xml`` names the package document (OPF), whose
manifest lists the files and whose spine gives their reading order. Each chapter (XHTML) goes
through the same main-text extraction as a web page (:mod:`pipelines.extract.html`). The chapter
is the citation unit: a chapter's segments carry its number in the spine (counted from 1) in
``page``, and hits are cited ``book.epub, ch. 3``. Only members named by the manifest are read,
each at most its declared size; the XML is parsed without entity resolution or network access.
"""

from __future__ import annotations

import posixpath
import time
import zipfile
from urllib.parse import unquote

from pipelines.config import Settings
from pipelines.deadline import check as check_deadline
from pipelines.errors import DamagedDocument, EmptyInput
from pipelines.extract.html import main_text, paragraphs, safe_xml, title_of
from pipelines.records import Extraction, Segment, Source

_CONTAINER = "META-INF/container.xml"
_CHAPTER_TYPES = frozenset({"application/xhtml+xml", "text/html", "application/xml"})


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def spine(archive: zipfile.ZipFile) -> tuple[str | None, list[str]]:
    """The book's title and the archive paths of its spine documents, in reading order."""
    root = safe_xml(archive.read(_CONTAINER))
    opf_path = next((unquote(e.get("full-path", "")) for e in root.iter() if _local(e.tag) == "rootfile"), "")
    if not opf_path:
        raise DamagedDocument("The EPUB's container names no package document")
    opf = safe_xml(archive.read(opf_path))
    base = posixpath.dirname(opf_path)
    manifest: dict[str, tuple[str, str]] = {}
    title: str | None = None
    order: list[str] = []
    for element in opf.iter():
        name = _local(element.tag)
        if name == "item" and element.get("id") and element.get("href"):
            href = posixpath.normpath(posixpath.join(base, unquote(element.get("href").split("#")[0])))
            manifest[element.get("id")] = (href, element.get("media-type", ""))
        elif name == "itemref" and element.get("idref"):
            order.append(element.get("idref"))
        elif name == "title" and title is None and (element.text or "").strip():
            title = title_of(element.text)
    paths = [manifest[i][0] for i in order if i in manifest and manifest[i][1] in _CHAPTER_TYPES]
    return title, paths


def extract_epub(source: Source, settings: Settings) -> Extraction:
    """Segments of an e-book, chapter by chapter in spine order; ``page`` is the chapter number
    and ``source.pages`` the number of chapters. ``source.title`` is the book's ``dc:title``."""
    started = time.perf_counter()
    segments: list[Segment] = []
    warnings: list[str] = []
    try:
        with zipfile.ZipFile(source.path) as archive:
            title, chapters = spine(archive)
            members = set(archive.namelist())
            for number, path in enumerate(chapters, start=1):
                check_deadline()
                if path not in members:
                    warnings.append(f"chapter {number}: {path} is listed but missing")
                    continue
                text = main_text(archive.read(path).decode("utf-8", errors="replace"), recall=True)
                segments.extend(Segment(text=p, page=number) for p in paragraphs(text))
    except MemoryError:
        raise
    except DamagedDocument as exc:
        exc.path = source.path
        raise
    except Exception as exc:  # noqa: BLE001 - zipfile and lxml raise many types for a broken book
        raise DamagedDocument(
            f"The EPUB cannot be read: {type(exc).__name__}: {exc}", path=source.path
        ) from exc
    source.title = title
    source.pages = len(chapters)
    if not segments:
        raise EmptyInput("The e-book's chapters hold no text", path=source.path)
    return Extraction(
        source=source, segments=segments, seconds=time.perf_counter() - started, warnings=warnings
    )
