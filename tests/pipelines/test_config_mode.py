"""Which mode is active is decided in one place, ``Settings.active_mode``; the CLI, the worker,
the submitter and the dashboard all ask it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import get_settings


@pytest.mark.parametrize(
    ("mode", "api_url", "active"),
    [
        ("auto", None, "embedded"),
        ("auto", "http://127.0.0.1:4200/api", "server"),
        ("auto", "   ", "embedded"),  # a blank variable configures nothing
        ("embedded", "http://127.0.0.1:4200/api", "embedded"),  # the setting wins over the variable
        ("server", None, "server"),
    ],
)
def test_active_mode(mode: str, api_url: str | None, active: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if api_url is None:
        monkeypatch.delenv("PREFECT_API_URL", raising=False)
    else:
        monkeypatch.setenv("PREFECT_API_URL", api_url)
    settings = get_settings(mode=mode)
    assert settings.active_mode == active
    assert settings.prefect_api_url == (api_url.strip().rstrip("/") or None if api_url else None)


def test_nothing_else_decides_the_mode() -> None:
    """Only ``pipelines.environment`` reads ``PREFECT_API_URL``: the settings ask it, and every
    other module asks the settings (or, in a command the worker answers, that module)."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    readers = sorted(
        str(path.relative_to(repo))
        for package in ("pipelines", "flows", "inlet", "dashboard")
        for path in (repo / package).rglob("*.py")
        if 'environ.get("PREFECT_API_URL"' in path.read_text()
        or 'getenv("PREFECT_API_URL"' in path.read_text()
    )
    assert readers == ["pipelines/environment.py"]


def test_a_job_run_on_another_machine_keeps_that_machines_folders_and_name(tmp_path: Path) -> None:
    """A job carries its submitter's settings; a worker of a team runs it with its own home,
    model folder and name, and every other setting as submitted."""
    base = tmp_path
    submitted = get_settings(home=base / "laptop", models_dir=base / "laptop-models", worker_name="laptop",
                             part_size=7, whisper_language="en")  # fmt: skip
    worker = get_settings(home=base / "worker", models_dir=base / "worker-models", worker_name="w1",
                          whisper_cpu_threads=16, max_embeddings=3)  # fmt: skip
    run = submitted.on_machine(worker)
    assert (run.home, run.models_dir, run.worker_name) == (base / "worker", base / "worker-models", "w1")
    assert (run.whisper_cpu_threads, run.max_embeddings) == (16, 3)  # the worker's cores, not the laptop's
    assert (run.part_size, run.whisper_language) == (7, "en")
    assert run.cache_dir == base / "worker" / "cache"
    assert submitted.home == base / "laptop"  # the job's own settings are left as they are
