import re
from pathlib import Path

import pytest

from pipelines import errors
from pipelines.config import Settings, get_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_environment_is_read_and_arguments_win(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INLET_CHUNK_TOKENS", "120")
    monkeypatch.setenv("INLET_PDF_PASSWORDS", '["a", "b"]')
    settings = get_settings()
    assert settings.chunk_tokens == 120 and settings.pdf_passwords == ["a", "b"]
    assert get_settings(chunk_tokens=64).chunk_tokens == 64
    assert get_settings(home=tmp_path).lancedb_dir == tmp_path / "lancedb"


def test_bad_settings_say_what_to_do() -> None:
    with pytest.raises(ValueError, match="chunk_overlap .* must be smaller"):
        get_settings(chunk_tokens=32, chunk_overlap=32)


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = README.read_text()
    missing = [n for n in Settings.model_fields if f"INLET_{n.upper()}" not in readme]
    assert not missing, f"README lacks: {missing}"


def test_every_error_class_has_a_code_hint_and_docstring() -> None:
    codes = set()
    for cls in errors.ALL_CLASSES:
        assert cls.hint and cls.__doc__, cls
        assert re.fullmatch(r"[a-z_]+", cls.code)
        codes.add(cls.code)
    assert len(codes) == len(errors.ALL_CLASSES) >= 15


def test_classify_maps_unexpected_failures() -> None:
    assert isinstance(errors.classify(MemoryError()), errors.OutOfMemory)
    assert isinstance(errors.classify(OSError(28, "No space left on device")), errors.DiskFull)
    assert isinstance(errors.classify(TimeoutError()), errors.StageTimeout)
    internal = errors.classify(KeyError("x"), path="a.pdf", stage="extract")
    assert isinstance(internal, errors.InternalError) and "KeyError" in internal.detail
    assert internal.to_dict()["path"] == "a.pdf"


def test_classify_maps_library_failures_to_the_closest_class(shared: Path, tmp_path: Path) -> None:
    import av
    from pypdf import PdfReader

    try:
        PdfReader(shared / "pdfs/pdfminer/issue-1113-evil-xobjects.pdf").pages[0].extract_text()
    except Exception as exc:  # noqa: BLE001 - whatever pypdf raises for this file
        damaged = errors.classify(exc, path="x.pdf", stage="extract")
        assert isinstance(damaged, errors.DamagedPdf), damaged
    noise = tmp_path / "noise.mp3"
    noise.write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(Exception) as caught:  # noqa: PT011 - PyAV's own error type
        av.open(str(noise))
    assert isinstance(errors.classify(caught.value, stage="transcribe"), errors.UndecodableAudio)
    assert isinstance(
        errors.classify(IndexError("list index out of range"), stage="transcribe"), errors.NoAudioTrack
    )
    bad_text = UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
    assert isinstance(errors.classify(bad_text, stage="extract"), errors.UnsupportedFormat)
    assert isinstance(
        errors.classify(PermissionError(13, "denied", "/x.pdf"), stage="validate"), errors.NotFound
    )
    assert errors.classify(PermissionError(13, "denied"), stage="index").retryable
    assert isinstance(errors.classify(RuntimeError("CUDA out of memory")), errors.OutOfMemory)


def test_classify_keeps_the_traceback_of_what_it_maps() -> None:
    def fail() -> None:
        {}["missing"]

    try:
        fail()
    except KeyError as exc:
        internal = errors.classify(exc, stage="chunk")
    assert isinstance(internal, errors.InternalError) and internal.code == "internal"
    assert "Traceback" in internal.traceback and "in fail" in internal.traceback
    assert internal.to_dict()["traceback"] == internal.traceback
    try:
        raise MemoryError
    except MemoryError as exc:
        assert "Traceback" in errors.classify(exc).traceback
