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


def test_the_worker_makes_a_commands_settings_from_its_environment_and_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydantic import ValidationError

    from pipelines import environment
    from pipelines.config import settings_for

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INLET_HOME", "kb")  # relative: to the command's working folder
    monkeypatch.setenv("INLET_CHUNK_TOKENS", "128")
    monkeypatch.setenv("INLET_PDF_PASSWORDS", '["first", "second"]')  # a list, as JSON
    mine, asked = get_settings(), environment.snapshot()
    # the worker: its own environment and working folder
    monkeypatch.setenv("INLET_HOME", "/elsewhere")
    monkeypatch.setenv("INLET_CHUNK_TOKENS", "300")
    monkeypatch.setenv("INLET_COLLECTION", "the-workers-own")
    monkeypatch.chdir("/")
    made = settings_for(asked, tmp_path)
    assert made.home == tmp_path / "kb" and made.query_socket_file == tmp_path / "kb/prefect/query.sock"
    assert (made.chunk_tokens, made.pdf_passwords, made.collection) == (128, ["first", "second"], "default")
    assert made.mode == "embedded" and made.model_dump(exclude={"home", "mode"}) == mine.model_dump(
        exclude={"home", "mode"}
    )
    # no INLET_HOME: the command's own HOME, for the home and the user's cache
    bare = settings_for({"HOME": "/home/ada"}, "/")
    assert (bare.home, bare.models_dir) == (Path("/home/ada/.inlet"), Path("/home/ada/.cache/inlet/models"))
    assert settings_for({"HOME": "/h", "PREFECT_API_URL": "http://10.0.0.2:4200/api"}, "/").mode == "server"
    with pytest.raises(ValidationError, match="chunk_tokens"):  # what the command itself would raise
        settings_for({**asked, "INLET_CHUNK_TOKENS": "many"}, tmp_path)
