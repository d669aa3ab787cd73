"""The ``inlet`` command. Every command takes ``--json`` and then prints one JSON document.

One module per concern registers its commands on ``main``: ``jobs`` (ingest and job control),
``search``, ``library`` (show), ``reports`` (errors, stats), ``dashboard``.

Errors are turned into their surface form here, in one place: a message with its hint on
stderr and a non-zero exit status.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import click

EXIT_FAILED_SOURCES = 1
EXIT_USAGE = 2


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=_json_default, ensure_ascii=False))


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(float(seconds), 60)
    return f"{int(minutes):02d}:{secs:04.1f}"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    envvar="INLET_HOME",
    help="Folder holding inlet's stores (default ~/.inlet; env INLET_HOME).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show Prefect's run logs.")
@click.version_option(package_name="inlet")
def main(home: str | None, verbose: bool) -> None:
    """inlet: turn documents and recordings into a searchable knowledge base.

    \b
    Examples:
      inlet ingest ~/papers ~/recordings --collection research
      inlet search "ask not what your country can do for you" --collection research
      inlet show jfk_inaugural_excerpt.wav
      inlet errors --json
    """
    if home:
        os.environ["INLET_HOME"] = str(Path(home).expanduser().resolve())
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


# The commands register themselves on ``main``.
from inlet.cli import dashboard, jobs, library, reports, search  # noqa: E402,F401

if __name__ == "__main__":
    main()
