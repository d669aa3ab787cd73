"""The ``inlet`` command group, its exit codes and its JSON output; the command modules
register themselves on :func:`main`.

Errors reach their surface form here, in one place (:class:`InletGroup`): a classified
:class:`~pipelines.errors.InletError` prints its message and hint and exits 1; a ``LookupError``
(nothing matches) prints its message and exits 1; a ``ValueError`` (a value the user gave is
wrong) is a usage error and exits 2.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import click

from pipelines.errors import InletError

EXIT_FAILED_SOURCES = 1
EXIT_USAGE = 2


class InletGroup(click.Group):
    """The command group: turns what a command raises into a message and an exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InletError as exc:
            raise click.ClickException(f"{exc.message}. {exc.hint}" if exc.hint else exc.message) from exc
        except LookupError as exc:
            raise click.ClickException(str(exc.args[0]) if exc.args else str(exc)) from exc
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=_json_default, ensure_ascii=False))


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@click.group(cls=InletGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
