from pathlib import Path

import pytest

from pipelines.config import get_settings
from pipelines.errors import DamagedPdf, EncryptedPdf, NoTextLayer, TooLong
from pipelines.extract.pdf import extract_pdf
from pipelines.sources import inspect


def _extract(path: Path, **overrides):  # noqa: ANN202
    settings = get_settings(**overrides)
    return extract_pdf(inspect(path, settings), settings)


def _flat(segments) -> str:  # noqa: ANN001
    return " ".join(" ".join(s.text for s in segments).split())


def _words(text: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in text.lower()).split()


def test_text_matches_the_reference(shared: Path) -> None:
    result = _extract(shared / "pdfs/pypdf/crazyones.pdf")
    expected = (shared / "pdfs/pypdf/crazyones.txt").read_text()
    assert [s.page for s in result.segments] == [1]
    assert _words(result.segments[0].text) == _words(expected)
    assert result.source.pages == 1


def test_pages_are_numbered_from_one(shared: Path) -> None:
    result = _extract(shared / "pdfs/pdfminer/i1040nr.pdf")
    assert result.source.pages == 50
    pages = [s.page for s in result.segments]
    assert pages == sorted(pages) and pages[0] == 1 and pages[-1] == 50


def test_page_limit(shared: Path) -> None:
    with pytest.raises(TooLong) as info:
        _extract(shared / "pdfs/pdfminer/i1040nr.pdf", max_pdf_pages=10)
    assert "50 pages" in info.value.message


@pytest.mark.parametrize(
    ("name", "password"),
    [
        ("pypdf/encryption/r4-aes-user-password.pdf", "asdfzxcv"),
        ("pypdf/encryption/r6-both-passwords.pdf", "foo"),
        ("pypdf/encryption/r2-user-password.pdf", "asdfzxcv"),
    ],
)
def test_encrypted_pdf_opens_with_its_password(shared: Path, name: str, password: str) -> None:
    with pytest.raises(EncryptedPdf) as info:
        _extract(shared / "pdfs" / name)
    assert "password" in info.value.message and not info.value.retryable
    result = _extract(shared / "pdfs" / name, pdf_passwords=["wrong", password])
    assert "pdf encryption test password: asdfzxcv" in _flat(result.segments)


def test_wrong_password_is_rejected_clearly(shared: Path) -> None:
    with pytest.raises(EncryptedPdf) as info:
        _extract(shared / "pdfs/pypdf/encrypted-file.pdf", pdf_passwords=["qwerty"])
    assert "none of the configured passwords" in info.value.message


def test_owner_only_password_needs_none(shared: Path) -> None:
    result = _extract(shared / "pdfs/pypdf/encryption/r4-owner-password.pdf")
    assert "asdfzxcv" in _flat(result.segments)


@pytest.mark.parametrize(
    "name", ["pdfminer/issue-1113-evil-xobjects.pdf", "pdfplumber/malformed-from-issue-932.pdf"]
)
def test_damaged_pdfs_are_classified(shared: Path, name: str) -> None:
    try:
        result = _extract(shared / "pdfs" / name)
    except (DamagedPdf, NoTextLayer) as exc:
        assert exc.hint and not exc.retryable
    else:  # read as far as pypdf can
        assert result.segments


def test_truncated_pdf(shared: Path, tmp_path: Path) -> None:
    data = (shared / "pdfs/pdfminer/i1040nr.pdf").read_bytes()
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(DamagedPdf):
        _extract(cut)


def test_scan_without_text_layer(shared: Path) -> None:
    with pytest.raises(NoTextLayer) as info:
        _extract(shared / "pdfs/pypdf/imagemagick-CCITTFaxDecode.pdf")
    assert "OCR" in info.value.hint
