"""The ``inlet`` command. Every command takes ``--json`` and then prints one JSON document.

One module per concern registers its commands on ``main``: ``jobs`` (ingest and job control),
``search``, ``library`` (show), ``reports`` (errors, stats), ``dashboard``, ``serve`` (the
HTTP API).

Errors are turned into their surface form here, in one place: a message with its hint on
stderr and a non-zero exit status.
"""

# The commands register themselves on ``main``.
from inlet.cli import dashboard, jobs, library, reports, search, serve  # noqa: F401
from inlet.cli.app import main

__all__ = ["main"]
