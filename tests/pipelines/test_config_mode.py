"""Which mode is active is decided in one place, ``Settings.active_mode``; the CLI, the worker,
the submitter and the dashboard all ask it."""

from __future__ import annotations

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
    import dashboard.health

    import flows.submit

    assert not hasattr(flows.submit, "resolve_mode")
    assert not hasattr(dashboard.health, "mode") and not hasattr(dashboard.health, "prefect_api_url")
