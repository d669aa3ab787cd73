"""OCR with Tesseract: images of their own, scanned PDF pages, confidence, and a missing engine.

The pictures are made here from known text with Pillow's own TrueType font, so every word read
can be checked.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from pipelines.config import get_settings
from pipelines.errors import NoTextLayer, OcrUnavailable, TooLarge, TooLong
from pipelines.extract import extract
from pipelines.sources import inspect, sniff

LINES = ["The lighthouse keeper counted", "forty seven ships in the harbour"]
SECOND = ["Marigold sailed north at dawn", "with a cargo of salt and timber"]


def page_image(lines: list[str], size: tuple[int, int] = (1400, 360), font_size: int = 48) -> Image.Image:
    """Black text on white, as a 300-dpi scan of a printed line would look."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=font_size)
    for i, line in enumerate(lines):
        draw.text((60, 60 + i * int(font_size * 1.6)), line, font=font, fill=0)
    return image


def words(text: str) -> list[str]:
    return [w.strip(".,").lower() for w in text.split()]


def scanned_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A PDF whose pages are only pictures (no text layer), as a scanner makes them."""
    images = [page_image(lines, size=(2480, 700)).convert("RGB") for lines in pages]
    images[0].save(path, "PDF", resolution=300.0, save_all=True, append_images=images[1:])
    return path


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP"])
def test_an_image_is_its_own_kind_and_its_words_are_read(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "photo.dat"  # the name says nothing
    page_image(LINES).convert("RGB").save(path, fmt)
    settings = get_settings()
    source = inspect(path, settings)
    assert source.kind == "image" and source.pages == 1
    extraction = extract(source, settings)
    [segment] = extraction.segments
    assert words(segment.text) == words(" ".join(LINES))
    assert segment.page is None and segment.ocr_confidence is not None and segment.ocr_confidence > 80


def test_a_multi_page_tiff_is_read_page_by_page(tmp_path: Path) -> None:
    path = tmp_path / "scan.tiff"
    first, second = page_image(LINES), page_image(SECOND)
    first.save(path, "TIFF", save_all=True, append_images=[second], compression="tiff_lzw")
    settings = get_settings()
    source = inspect(path, settings)
    assert source.kind == "image" and source.pages == 2
    pages = {s.page: s for s in extract(source, settings).segments}
    assert words(pages[1].text) == words(" ".join(LINES))
    assert words(pages[2].text) == words(" ".join(SECOND))


def test_a_gif_gives_its_first_frame_only(tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    page_image(LINES).save(path, "GIF", save_all=True, append_images=[page_image(SECOND)], duration=500)
    settings = get_settings()
    extraction = extract(inspect(path, settings), settings)
    text = " ".join(s.text for s in extraction.segments).lower()
    assert "lighthouse" in text and "marigold" not in text


def test_a_transparent_png_is_read_on_white(tmp_path: Path) -> None:
    path = tmp_path / "logo.png"
    rgba = Image.new("RGBA", (1400, 360), (0, 0, 0, 0))
    mask = page_image(LINES).point(lambda v: 255 - v)
    rgba.paste((0, 0, 0, 255), mask=mask)
    rgba.save(path)
    settings = get_settings()
    extraction = extract(inspect(path, settings), settings)
    assert words(extraction.segments[0].text) == words(" ".join(LINES))


def test_image_signatures_do_not_catch_text() -> None:
    assert sniff(b"BMW cars and GIF files, read as prose.\n")[0] == "text"
    buffer = io.BytesIO()
    page_image(LINES).save(buffer, "PNG")
    assert sniff(buffer.getvalue())[0] == "image"


def test_a_scanned_pdf_page_is_rendered_and_read(tmp_path: Path) -> None:
    settings = get_settings()
    path = scanned_pdf(tmp_path / "scan.pdf", [LINES, SECOND])
    extraction = extract(inspect(path, settings), settings)
    pages = {s.page: s for s in extraction.segments}
    assert set(pages) == {1, 2}
    assert words(pages[2].text) == words(" ".join(SECOND))
    assert all(s.ocr_confidence and s.ocr_confidence > 80 for s in pages.values())


def test_text_pages_keep_their_layer_and_scanned_pages_are_ocrd(tmp_path: Path, shared: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.add_page(PdfReader(shared / "pdfs/pypdf/crazyones.pdf").pages[0])
    writer.add_page(PdfReader(scanned_pdf(tmp_path / "s.pdf", [SECOND])).pages[0])
    mixed = tmp_path / "mixed.pdf"
    writer.write(mixed)
    settings = get_settings()
    segments = extract(inspect(mixed, settings), settings).segments
    assert [(s.page, s.ocr_confidence is None) for s in segments] == [(1, True), (2, False)]
    assert "crazy" in segments[0].text.lower() and "marigold" in segments[1].text.lower()


def test_the_shared_scan_is_read_on_its_page(shared: Path) -> None:
    settings = get_settings()
    path = shared / "pdfs/pypdf/encrypted_doc_no_id.pdf"
    segments = extract(inspect(path, settings), settings).segments
    page_two = next(s for s in segments if s.page == 2)
    assert "Notes on Codes and Abbreviations" in " ".join(page_two.text.split())
    assert page_two.ocr_confidence is not None


def test_a_picture_without_words_is_still_no_text_layer(shared: Path) -> None:
    settings = get_settings()
    with pytest.raises(NoTextLayer) as info:
        extract(inspect(shared / "pdfs/pypdf/imagemagick-CCITTFaxDecode.pdf", settings), settings)
    assert "OCR read no words" in info.value.message
    with pytest.raises(NoTextLayer) as off:
        extract(inspect(shared / "pdfs/pypdf/encrypted_doc_no_id.pdf", settings), get_settings(ocr=False))
    assert "OCR" not in off.value.message


def test_without_the_engine_a_scan_fails_with_how_to_install_it(tmp_path: Path) -> None:
    settings = get_settings(ocr_tesseract=str(tmp_path / "no-such-tesseract"))
    path = scanned_pdf(tmp_path / "scan.pdf", [LINES])
    with pytest.raises(OcrUnavailable) as info:
        extract(inspect(path, settings), settings)
    assert "not installed" in info.value.message
    assert "apt-get install tesseract-ocr tesseract-ocr-eng" in info.value.hint
    image = tmp_path / "photo.png"
    page_image(LINES).save(image)
    with pytest.raises(OcrUnavailable):
        extract(inspect(image, settings), settings)
    with pytest.raises(OcrUnavailable) as lang:
        extract(inspect(image, get_settings(ocr_language="eng+xyz")), get_settings(ocr_language="eng+xyz"))
    assert "tesseract-ocr-xyz" in lang.value.message


def test_pixel_and_page_limits_are_checked_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    page_image(LINES).save(path)
    with pytest.raises(TooLarge) as info:
        inspect(path, get_settings(max_image_pixels=100_000))
    assert "pixels" in info.value.message and "INLET_MAX_IMAGE_PIXELS" in info.value.hint
    tiff = tmp_path / "pages.tiff"
    page_image(LINES).save(tiff, "TIFF", save_all=True, append_images=[page_image(SECOND)] * 3)
    with pytest.raises(TooLong):
        inspect(tiff, get_settings(max_ocr_pages=3))
