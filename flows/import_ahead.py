"""Importing modules ahead, on a background thread, while the process waits for something else.

The local worker imports its flows and what a search needs while its Prefect server starts (the
server's start keeps one core busy and leaves the other free); a submitter waiting for a new
worker's server imports Prefect's client meanwhile. Each such import took 2-3 s here and had
waited for the server.

A thread that later imports the same modules itself joins the returned thread first: two
threads importing the same modules, with cycles among them, can fail one import as a deadlock.
A failure here is only logged: the caller's own import raises it where it matters.
"""

from __future__ import annotations

import importlib
import logging
import threading

log = logging.getLogger("inlet.worker")


def import_ahead(*modules: str, name: str) -> threading.Thread:
    """Import ``modules`` in order on a daemon thread called ``name``; the started thread."""

    def load() -> None:
        try:
            for module in modules:
                importlib.import_module(module)
        except Exception:  # noqa: BLE001 - the caller imports them again and raises there
            log.debug("importing %s ahead failed", ", ".join(modules), exc_info=True)

    thread = threading.Thread(target=load, name=name, daemon=True)
    thread.start()
    return thread
