"""The ``inlet`` command group, its exit codes and its JSON output; the command modules
register themselves on :func:`main`."""

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
