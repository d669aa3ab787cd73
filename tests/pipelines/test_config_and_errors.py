"""Settings; the error taxonomy is tested in test_errors.py."""

from pathlib import Path

import pytest

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
