"""``prefect server start`` for the local server, with SQLite write transactions begun IMMEDIATE.

Prefect's SQLite configuration begins most write transactions DEFERRED: the transaction reads
first and asks for the write lock later. In WAL mode, when another connection has written in
between, SQLite refuses that upgrade at once with ``database is locked`` (the busy timeout does
not apply to it); the server answers 503 and Prefect's client waits seconds before it retries.
Measured here: 30 jobs submitted at once from one process logged 490 such errors and took a
median of 72 s each to submit. Begun IMMEDIATE, a transaction takes the write lock first and
waits for it under the busy timeout instead, which is what Prefect's own comment on these
pragmas recommends. Reads outside a transaction are unchanged.

Run as ``python -m flows._prefect_server server start ...`` (the arguments of ``prefect``).
``INLET_PREFECT_SQLITE_BEGIN=deferred`` keeps Prefect's own behaviour (``bench/submit_burst.py``
compares the two).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncGenerator
from typing import Any


def begin_immediate() -> bool:
    """Make Prefect's SQLite transactions begin IMMEDIATE; False when this Prefect has no such hook."""
    try:
        from prefect.server.database import configurations as conf
    except ImportError:  # pragma: no cover - a Prefect without a server
        return False
    mode = getattr(conf, "SQLITE_BEGIN_MODE", None)
    sqlite = getattr(conf, "AioSqliteConfiguration", None)
    if mode is None or sqlite is None or not hasattr(sqlite, "begin_transaction"):
        return False

    @contextlib.asynccontextmanager
    async def begin_transaction(
        self: Any, session: Any, with_for_update: bool = False
    ) -> AsyncGenerator[Any]:
        token = mode.set("IMMEDIATE")
        try:
            async with session.begin() as transaction:
                yield transaction
        finally:
            mode.reset(token)

    sqlite.begin_transaction = begin_transaction
    return True


def main() -> None:
    if os.environ.get("INLET_PREFECT_SQLITE_BEGIN", "immediate").lower() != "deferred":
        begin_immediate()
    from prefect.cli import app

    app()


if __name__ == "__main__":
    main()
