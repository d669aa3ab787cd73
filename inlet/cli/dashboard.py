"""``inlet dashboard``: serve the Streamlit app."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from inlet.cli.app import main


@main.command()
@click.option("--port", type=int, default=8501, show_default=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; keep 127.0.0.1 unless others must reach it.",
)
def dashboard(port: int, host: str) -> None:
    """Open the Streamlit dashboard (upload, jobs, search, statistics, errors, health).

    The upload limit is the largest INLET_MAX_BYTES_* setting; each file is then checked
    against the limit for its own kind.
    """
    from pipelines.config import get_settings
    from pipelines.uploads import upload_limit_mb

    app = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
    command = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", host, "--server.port", str(port), "--server.headless", "true",
        "--server.maxUploadSize", str(upload_limit_mb(get_settings())),
        "--server.fileWatcherType", "none", "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
    ]  # fmt: skip
    click.echo(f"inlet dashboard on http://{host}:{port}  (Ctrl-C to stop)")
    sys.stdout.flush()
    # Become the Streamlit server (no child left behind when this process is stopped).
    os.execv(sys.executable, command)
