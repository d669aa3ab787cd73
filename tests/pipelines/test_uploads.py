"""Upload acceptance on real files: safe names, kind by content, limits before acceptance."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from pipelines.config import get_settings
from pipelines.records import KINDS
from pipelines.uploads import accept_files, has_folder, safe_name, upload_limit_mb

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples" / "corpus"
PDF = SAMPLES / "gettysburg_address.pdf"
WAV = SAMPLES / "jfk_inaugural_excerpt.wav"


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def upload(*items: tuple[str, bytes], **overrides: object):  # noqa: ANN201
    settings = get_settings(**overrides)
    return accept_files([(name, io.BytesIO(data)) for name, data in items], settings), settings


def test_good_files_are_kept_under_the_home_with_their_kind(inlet_home: Path) -> None:
    batch, settings = upload(("speech.wav", WAV.read_bytes()), ("Gettysburg.pdf", PDF.read_bytes()))
    assert not batch.rejected
    assert [(a.name, a.kind) for a in batch.accepted] == [("speech.wav", "audio"), ("Gettysburg.pdf", "pdf")]
    audio, pdf = batch.accepted
    assert audio.duration_s == pytest.approx(15.6, abs=0.5)
    assert pdf.pages == 1
    assert batch.folder.parent == settings.uploads_dir
    assert files_under(inlet_home) == {audio.path, pdf.path}
    assert audio.path.read_bytes() == WAV.read_bytes()
    assert batch.paths == [str(audio.path), str(pdf.path)]


def test_kind_comes_from_content_not_the_name(inlet_home: Path) -> None:
    batch, _ = upload(("looks-like-text.txt", WAV.read_bytes()), ("binary.pdf", bytes(range(256)) * 8))
    assert [(a.name, a.kind) for a in batch.accepted] == [("looks-like-text.txt", "audio")]
    [rejected] = batch.rejected
    assert (rejected.name, rejected.error.code) == ("binary.pdf", "unsupported_format")
    assert "PDF, text" in rejected.error.hint


def test_a_name_with_a_folder_path_is_refused_and_nothing_leaves_the_home(
    inlet_home: Path, tmp_path: Path
) -> None:
    outside = {p for p in tmp_path.rglob("*") if p.is_file()}
    batch, _ = upload(("../../evil.pdf", PDF.read_bytes()), ("..\\..\\evil2.pdf", PDF.read_bytes()))
    assert not batch.accepted
    assert [(r.name, r.error.code) for r in batch.rejected] == [
        ("../../evil.pdf", "unsafe_name"),
        ("..\\..\\evil2.pdf", "unsafe_name"),
    ]
    assert "folder path" in batch.rejected[0].error.message
    assert {p for p in tmp_path.rglob("*") if p.is_file()} == outside
    assert not batch.folder.exists()  # no accepted file: the batch folder is removed
    assert not list(tmp_path.rglob("evil*.pdf"))


def test_oversized_and_too_long_files_are_refused_before_acceptance(inlet_home: Path) -> None:
    batch, _ = upload(
        ("big.pdf", PDF.read_bytes()), ("speech.wav", WAV.read_bytes()), ("notes.md", b"# Notes\nhello\n"),
        max_bytes_pdf=1000, max_audio_seconds=5,
    )  # fmt: skip
    assert [a.name for a in batch.accepted] == ["notes.md"]
    codes = {r.name: r.error.code for r in batch.rejected}
    assert codes == {"big.pdf": "too_large", "speech.wav": "too_long"}
    messages = {r.name: r.error.message for r in batch.rejected}
    assert messages["big.pdf"] == f"The pdf file is {PDF.stat().st_size / 1000:.1f} kB, over the 1.0 kB limit"
    assert "over the 5 s limit" in messages["speech.wav"]
    assert files_under(inlet_home) == {batch.accepted[0].path}


def test_a_file_over_every_limit_is_cut_off_while_streaming(inlet_home: Path) -> None:
    small = dict(max_bytes_pdf=2000, max_bytes_text=2000, max_bytes_audio=2000, max_bytes_video=2000)
    batch, _ = upload(("huge.md", b"x" * 10_000), **small)
    [rejected] = batch.rejected
    assert rejected.error.code == "too_large"
    assert files_under(inlet_home) == set()


def test_empty_damaged_and_too_many_pages(inlet_home: Path, shared: Path) -> None:
    batch, _ = upload(
        ("empty.pdf", b""),
        ("no-startxref.pdf", (shared / "pdfs/pdfminer/issue-1113-evil-xobjects.pdf").read_bytes()),
        ("many.pdf", (shared / "pdfs/pdfminer/i1040nr.pdf").read_bytes()),
        max_pdf_pages=10,
    )  # fmt: skip
    codes = {r.name: r.error.code for r in batch.rejected}
    assert codes["empty.pdf"] == "empty"
    assert codes["many.pdf"] == "too_long"
    assert "50 pages" in next(r.error.message for r in batch.rejected if r.name == "many.pdf")
    # pypdf opens some damaged files leniently; when it does not, the refusal says so
    assert codes.get("no-startxref.pdf", "damaged_pdf") == "damaged_pdf"


def test_same_name_twice_in_one_batch_gets_a_second_name(inlet_home: Path) -> None:
    batch, _ = upload(("a.md", b"first\n"), ("a.md", b"second\n"), ("A.md", b"third\n"))
    assert [a.path.name for a in batch.accepted] == ["a.md", "a-2.md", "A-3.md"]
    assert [a.path.read_text() for a in batch.accepted] == ["first\n", "second\n", "third\n"]


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("report.pdf", "report.pdf"),
        ("../../evil.pdf", "evil.pdf"),
        ("C:\\Users\\x\\doc.pdf", "doc.pdf"),
        ("..", "upload"),
        (".hidden.md", "hidden.md"),
        ("a\x00b\nc.md", "a_b_c.md"),
        ("semi;colon|pipe*.txt", "semi_colon_pipe_.txt"),
        ("Résumé 2024.pdf", "Résumé 2024.pdf"),
        ("x" * 400 + ".pdf", "x" * 176 + ".pdf"),
    ],
)
def test_safe_name(raw: str, safe: str) -> None:
    assert safe_name(raw) == safe
    assert not has_folder(safe_name(raw))


def test_upload_limit_follows_settings() -> None:
    assert upload_limit_mb(get_settings()) == 2000
    small = {f"max_bytes_{kind}": 1 for kind in KINDS} | {"max_bytes_audio": 3 * 1024 * 1024}
    assert upload_limit_mb(get_settings(**small)) == 3


def test_pages_documents_and_images_are_accepted_by_content(inlet_home: Path, tmp_path: Path) -> None:
    from tests.pipelines.test_extract_documents import make_docx, make_epub
    from tests.pipelines.test_extract_html import PAGE
    from tests.pipelines.test_extract_mail import make_eml
    from tests.pipelines.test_extract_odf import SHEETS, make_odf
    from tests.pipelines.test_extract_office import make_pptx, make_xlsx
    from tests.pipelines.test_ocr import LINES, SECOND, page_image

    tiff = tmp_path / "fax.tiff"
    page_image(LINES).save(tiff, "TIFF", save_all=True, append_images=[page_image(SECOND)])
    batch, _ = upload(
        ("page.txt", PAGE.encode()),
        ("report.bin", make_docx(tmp_path / "r.docx").read_bytes()),
        ("book.epub", make_epub(tmp_path / "b.epub").read_bytes()),
        ("fax.tiff", tiff.read_bytes()),
        ("slides", make_pptx(tmp_path / "d.pptx").read_bytes()),
        ("figures.xlsm", make_xlsx(tmp_path / "f.xlsx").read_bytes()),
        ("message.txt", make_eml(tmp_path / "m.eml").read_bytes()),
        ("sheet.zip", make_odf(tmp_path / "s.ods", "ods", SHEETS).read_bytes()),
    )
    assert not batch.rejected
    assert [(a.name, a.kind, a.pages) for a in batch.accepted] == [
        ("page.txt", "html", None),
        ("report.bin", "docx", None),
        ("book.epub", "epub", None),
        ("fax.tiff", "image", 2),
        ("slides", "pptx", None),
        ("figures.xlsm", "xlsx", None),
        ("message.txt", "email", None),
        ("sheet.zip", "ods", None),
    ]


def test_huge_images_and_archive_bombs_are_refused_at_upload(inlet_home: Path) -> None:
    import zipfile

    from tests.pipelines.test_ocr import LINES, page_image

    picture = io.BytesIO()
    page_image(LINES).save(picture, "PNG")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/epub+zip")
        z.writestr("OEBPS/big.xhtml", b" " * 3_000_000)
    batch, _ = upload(("scan.png", picture.getvalue()), ("book.epub", bomb.getvalue()),
                      max_image_pixels=10_000, max_unpacked_bytes=1_000_000)  # fmt: skip
    assert not batch.accepted
    assert [(r.name, r.error.code) for r in batch.rejected] == [
        ("scan.png", "too_large"),
        ("book.epub", "too_large"),
    ]
    assert "pixels" in batch.rejected[0].error.message and "unpack" in batch.rejected[1].error.message


def test_a_video_picture_over_the_pixel_limit_is_refused_at_upload(inlet_home: Path, tmp_path: Path) -> None:
    from tests.pipelines.test_extract_video import make_silent_video

    video = make_silent_video(tmp_path / "cam.mp4", seconds=1).read_bytes()
    batch, _ = upload(("cam.mp4", video), ("copy.mp4", video), max_video_pixels=10_000)
    assert not batch.accepted and files_under(inlet_home / "uploads") == set()
    assert [(r.name, r.error.code) for r in batch.rejected] == [
        ("cam.mp4", "too_large"),
        ("copy.mp4", "too_large"),
    ]
    assert "160 x 96 pixels" in batch.rejected[0].error.message
    assert "INLET_MAX_VIDEO_PIXELS" in (batch.rejected[0].error.hint or "")
    batch, _ = upload(("cam.mp4", video))  # the default limit takes it, as a video without sound
    assert [(a.name, a.kind) for a in batch.accepted] == [("cam.mp4", "video")]
