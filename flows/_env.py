"""Environment for Prefect in embedded mode, set before ``prefect`` is imported."""

from __future__ import annotations

import os

from pipelines import environment
from pipelines.models import offline


def configure_prefect() -> None:
    """Give Prefect its home under inlet's home, quiet its telemetry, keep models offline."""
    if "PREFECT_HOME" not in os.environ:  # the home's, as the settings read it (no pydantic here)
        prefect_home = environment.prefect_home(environment.home(os.environ))
        prefect_home.mkdir(parents=True, exist_ok=True)
        os.environ["PREFECT_HOME"] = str(prefect_home)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    # inlet's own loggers reach the Prefect UI as run logs.
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "inlet")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    offline()
