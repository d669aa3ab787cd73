"""What inlet's settings read from a process's environment, and the folders that follow from it,
with the standard library alone.

:mod:`pipelines.config` builds the settings object (pydantic, whose import alone takes 0.3-0.4 s
of a command's start); the rules here are the ones it uses for the home, the user's cache and
where jobs run, so that a fresh ``inlet`` process can find its home's local worker and hand it
its environment (:class:`flows.query_socket.Asker`) without importing pydantic, and the worker
builds the same settings from that environment (:func:`pipelines.config.settings_for`).

    >>> env = {"HOME": "/home/ada", "INLET_HOME": "~/kb"}
    >>> home(env), query_socket(home(env)), active_mode(env)
    (PosixPath('/home/ada/kb'), PosixPath('/home/ada/kb/prefect/query.sock'), 'embedded')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

PREFIX = "INLET_"
"""Every setting is the environment variable ``INLET_`` + its name in upper case."""
ALSO_READ = ("HOME", "XDG_CACHE_HOME", "PREFECT_API_URL")
"""Variables besides ``INLET_*`` that settings read: the default home, the user's cache, and
the Prefect server that makes ``mode=auto`` mean ``server``."""


def snapshot(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables of ``environ`` (default: this process's) that settings read, sorted."""
    environ = os.environ if environ is None else environ
    return {k: v for k, v in sorted(environ.items()) if k.upper().startswith(PREFIX) or k in ALSO_READ}


def expand(path: str | Path, environ: Mapping[str, str]) -> Path:
    """``path`` with a leading ``~`` made the ``HOME`` of ``environ`` (as the shell would)."""
    text = str(path)
    if text == "~" or text.startswith("~/"):
        user = environ.get("HOME") or str(Path.home())
        return Path(user + text[1:])
    return Path(text)


def default_home(environ: Mapping[str, str]) -> Path:
    """The home when ``INLET_HOME`` is not set: ``~/.inlet``."""
    return expand("~/.inlet", environ)


def home(environ: Mapping[str, str]) -> Path:
    """The home folder settings read from ``environ`` (``INLET_HOME``, else ``~/.inlet``)."""
    given = environ.get(f"{PREFIX}HOME", "")
    return expand(given, environ) if given else default_home(environ)


def user_cache(environ: Mapping[str, str] | None = None) -> Path:
    """This user's cache folder for inlet (``$XDG_CACHE_HOME/inlet``, else ``~/.cache/inlet``):
    what can be made again from installed packages, shared by every home."""
    environ = os.environ if environ is None else environ
    return expand(environ.get("XDG_CACHE_HOME") or "~/.cache", environ) / "inlet"


def prefect_home(home: Path) -> Path:
    """Prefect's own state in embedded mode: ``<home>/prefect``."""
    return home / "prefect"


def query_socket(home: Path) -> Path:
    """The Unix socket on which the local worker of a home answers the ``inlet`` command."""
    return prefect_home(home) / "query.sock"


def api_url(environ: Mapping[str, str]) -> str | None:
    """The Prefect server configured in ``environ`` (``PREFECT_API_URL``), or ``None``."""
    return environ.get("PREFECT_API_URL", "").strip().rstrip("/") or None


def active_mode(environ: Mapping[str, str], mode: str | None = None) -> str:
    """Where jobs run: ``mode`` (default: ``INLET_MODE`` of ``environ``, else ``auto``), ``auto``
    meaning ``server`` when a Prefect server is configured, else ``embedded``."""
    mode = mode or environ.get(f"{PREFIX}MODE", "").strip().lower() or "auto"
    if mode != "auto":
        return mode
    return "server" if api_url(environ) else "embedded"
