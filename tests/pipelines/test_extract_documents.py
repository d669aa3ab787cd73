"""Word documents and EPUB e-books: told by their archive's members, read in document order."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from pipelines.config import get_settings
from pipelines.errors import DamagedDocument, EmptyInput, TooLarge, UnsupportedFormat
from pipelines.extract import extract
from pipelines.sources import inspect


def make_docx(path: Path) -> Path:
    """A report with a title, headings, paragraphs and a table, saved by python-docx."""
    import docx

    document = docx.Document()
    document.core_properties.title = "Harbour survey 2025"
    document.add_heading("Harbour survey", level=0)
    document.add_paragraph("The survey measured the depth of the harbour at low tide in spring.")
    document.add_heading("Findings", level=1)
    document.add_paragraph("Silt has raised the channel floor by forty centimetres since the last dredging.")
    table = document.add_table(rows=3, cols=2)
    for row, (berth, depth) in zip(table.rows, [("Berth", "Depth"), ("North quay", "6.1 m"),
                                                ("Kelpwater basin", "3.4 m")], strict=True):  # fmt: skip
        row.cells[0].text, row.cells[1].text = berth, depth
    document.add_heading("Next steps", level=2)
    document.add_paragraph("Dredge the Kelpwater basin before the autumn storms.")
    document.save(str(path))
    return path


def _chapter(title: str, body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n'
        f'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{title}</title></head>'
        f"<body><h1>{title}</h1>{body}</body></html>"
    )


def make_epub(path: Path) -> Path:
    """A three-chapter book whose manifest lists the chapters out of reading order."""
    chapters = {
        "text/ch1.xhtml": _chapter("The Lighthouse", "<p>The keeper climbed the hundred steps every "
                                   "evening to light the great lamp above the reef.</p>"),
        "text/ch2.xhtml": _chapter("The Storm", "<p>In the storm of March the lamp failed and the "
                                   "keeper rang the fog bell until dawn.</p>"),
        "text/ch3.xhtml": _chapter("The Rescue", "<p>At first light the fishermen rowed out and "
                                   "found the schooner Marigold aground but whole.</p>"),
    }  # fmt: skip
    opf = """<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">x</dc:identifier>
<dc:title>The Keeper of the Reef</dc:title><dc:language>en</dc:language></metadata>
<manifest>
<item id="c3" href="text/ch3.xhtml" media-type="application/xhtml+xml"/>
<item id="c1" href="text/ch1.xhtml" media-type="application/xhtml+xml"/>
<item id="c2" href="text/ch2.xhtml" media-type="application/xhtml+xml"/>
<item id="css" href="style.css" media-type="text/css"/>
</manifest>
<spine><itemref idref="c1"/><itemref idref="c2"/><itemref idref="c3"/></spine>
</package>"""
    container = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>"""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml", container, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("OEBPS/content.opf", opf, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("OEBPS/style.css", "p { secretcss: 1 }", compress_type=zipfile.ZIP_DEFLATED)
        for name, text in chapters.items():
            z.writestr(f"OEBPS/{name}", text, compress_type=zipfile.ZIP_DEFLATED)
    return path


def test_a_docx_is_told_by_content_whatever_its_name(tmp_path: Path) -> None:
    renamed = make_docx(tmp_path / "survey.zip")
    assert inspect(renamed, get_settings()).kind == "docx"
    plain = tmp_path / "plain.docx"  # a ZIP named .docx without the Office content types
    with zipfile.ZipFile(plain, "w") as z:
        z.writestr("word/document.xml", "<x/>")
    with pytest.raises(UnsupportedFormat) as info:
        inspect(plain, get_settings())
    assert "ZIP archive" in info.value.message and "DOCX" in info.value.hint


def test_docx_paragraphs_headings_and_tables_in_order(tmp_path: Path) -> None:
    settings = get_settings()
    extraction = extract(inspect(make_docx(tmp_path / "survey.docx"), settings), settings)
    texts = [s.text for s in extraction.segments]
    assert extraction.source.title == "Harbour survey 2025"
    assert texts == [
        "# Harbour survey",
        "The survey measured the depth of the harbour at low tide in spring.",
        "# Findings",
        "Silt has raised the channel floor by forty centimetres since the last dredging.",
        "Berth | Depth\nNorth quay | 6.1 m\nKelpwater basin | 3.4 m",
        "## Next steps",
        "Dredge the Kelpwater basin before the autumn storms.",
    ]


def test_epub_chapters_in_spine_order_numbered(tmp_path: Path) -> None:
    settings = get_settings()
    book = make_epub(tmp_path / "keeper.bin")
    source = inspect(book, settings)
    assert source.kind == "epub"
    extraction = extract(source, settings)
    assert extraction.source.title == "The Keeper of the Reef" and extraction.source.pages == 3
    found = {
        s.page: s.text for s in extraction.segments if "keeper" in s.text.lower() or "schooner" in s.text
    }
    assert "hundred steps" in found[1] and "fog bell" in found[2] and "Marigold" in found[3]
    assert [s.page for s in extraction.segments] == sorted(s.page for s in extraction.segments)
    assert not any("secretcss" in s.text for s in extraction.segments)


def test_an_archive_that_unpacks_to_too_much_is_refused_before_unpacking(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "x")
        z.writestr("word/document.xml", b"\0" * 5_000_000)
    assert bomb.stat().st_size < 50_000
    with pytest.raises(TooLarge) as info:
        inspect(bomb, get_settings(max_unpacked_bytes=1_000_000))
    assert "unpack" in info.value.message and "INLET_MAX_UNPACKED_BYTES" in info.value.hint


def test_broken_documents_are_classified(tmp_path: Path) -> None:
    settings = get_settings()
    truncated = tmp_path / "cut.docx"
    truncated.write_bytes(make_docx(tmp_path / "whole.docx").read_bytes()[:3000])
    with pytest.raises(DamagedDocument) as info:
        extract(inspect(truncated, settings), settings)
    assert info.value.hint and not info.value.retryable
    empty_book = tmp_path / "empty.epub"
    with zipfile.ZipFile(empty_book, "w") as z:
        z.writestr("mimetype", "application/epub+zip")
    with pytest.raises(DamagedDocument):
        extract(inspect(empty_book, settings), settings)
    blank = tmp_path / "blank.docx"
    import docx

    docx.Document().save(str(blank))
    with pytest.raises(EmptyInput):
        extract(inspect(blank, settings), settings)
