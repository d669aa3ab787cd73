"""Web pages (HTML and XHTML): the main text, without scripts, styles or navigation.

``trafilatura`` finds the page's main content (headings, paragraphs, lists, tables and code
blocks are kept; menus, sidebars, footers, scripts and styles are dropped). The title comes
from the page's own ``<title>`` element: trafilatura's guess can be a heading of the wrong
part of the page. Nothing in the page is run or fetched: it is parsed as data, with network
access and entity loading turned off.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from pipelines.config import Settings
from pipelines.errors import EmptyInput, UnsupportedFormat
from pipelines.extract.text import decode
from pipelines.records import Extraction, Segment, Source

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_DECLARED_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)|<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)""",
    re.IGNORECASE,
)
TITLE_MAX = 300
"""Longest title kept, in characters."""


def title_of(text: str | None) -> str | None:
    """A document's own title as inlet keeps it: its whitespace made single, at most
    :data:`TITLE_MAX` characters; ``None`` when it has none.

    >>> title_of("  Harbour   survey "), title_of("   "), title_of(None)
    ('Harbour survey', None, None)
    """
    return " ".join((text or "").split())[:TITLE_MAX] or None


def safe_xml(data: bytes) -> Any:
    """The root element of an XML document from a file inlet did not write (an e-book's or an
    OpenDocument file's parts), parsed by lxml without resolving entities, loading a DTD or
    touching the network, and without lxml's allowance for huge trees."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    return etree.fromstring(data, parser)


def declared_charset(data: bytes) -> str | None:
    """The encoding a page declares near its start (``<meta charset>``, the ``charset`` of a
    ``Content-Type`` meta tag, or an XML declaration), when Python knows it.

    >>> declared_charset(b'<meta charset="ISO-8859-1">'), declared_charset(b"<p>none</p>")
    ('iso8859-1', None)
    """
    import codecs

    match = _DECLARED_CHARSET.search(data[:4096])
    if match is None:
        return None
    name = (match.group(1) or match.group(2)).decode("ascii", errors="ignore")
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def page_title(data: bytes, encoding: str | None = None) -> str | None:
    """The text of a page's ``<title>`` (white space folded), or ``None`` when it has none.

    >>> page_title(b"<html><head><title> Tides &amp;\\n Moons </title></head></html>")
    'Tides & Moons'
    """
    from lxml import etree, html

    parser = html.HTMLParser(encoding=encoding, no_network=True, remove_comments=True)
    try:
        root = etree.fromstring(data, parser)
    except (etree.LxmlError, ValueError):
        return None
    if root is None:
        return None
    for element in root.iter("title", "{*}title"):
        text = " ".join("".join(element.itertext()).split())
        if text:
            return text[:TITLE_MAX]
    return None


def main_text(markup: str, *, recall: bool = False) -> str:
    """The main text of a page as Markdown-like text (``#`` headings, fenced code, tables);
    ``recall`` keeps more of the page (a book's chapter has no navigation to drop)."""
    import trafilatura

    text: str | None = None
    for favor in (recall, True):  # a short page can fall under the main-content heuristics
        text = trafilatura.extract(markup, include_comments=False, include_tables=True,
                                   include_formatting=True, favor_recall=favor)  # fmt: skip
        if text:
            break
    if not text:
        text = trafilatura.html2txt(markup, clean=True)
    return text or ""


def paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs of ``text``, stripped, empty ones dropped."""
    return [p.strip() for p in _PARAGRAPH_BREAK.split(text.replace("\r\n", "\n")) if p.strip()]


def extract_html(source: Source, settings: Settings) -> Extraction:
    """Segments of a web page: its title (when it has one), then one per paragraph of its main
    text. ``source.title`` is set to the page's ``<title>``."""
    started = time.perf_counter()
    data = Path(source.path).read_bytes()
    try:
        # A page's own declaration beats a guess from its bytes (as in a browser).
        markup, encoding = decode(data, declared_charset(data) or source.encoding)
    except UnsupportedFormat as exc:
        exc.path = source.path
        raise
    source.encoding = encoding
    source.title = page_title(data, encoding.removesuffix("-sig"))
    body = paragraphs(main_text(markup))
    if not body:
        raise EmptyInput("The page holds no text once scripts, styles and navigation are removed",
                         path=source.path)  # fmt: skip
    heading = [Segment(text=source.title)] if source.title and source.title not in body[0] else []
    return Extraction(
        source=source,
        segments=heading + [Segment(text=p) for p in body],
        seconds=time.perf_counter() - started,
    )
