"""How every facade function turns ``settings=`` and keyword overrides into one Settings."""

from __future__ import annotations

from typing import Any

from pipelines.config import Settings, get_settings


def resolve(settings: Settings | None, overrides: dict[str, Any]) -> Settings:
    """``settings`` (or the environment's) with ``overrides`` applied; ``None`` values are ignored."""
    if settings is not None:
        return settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    return get_settings(**overrides)
