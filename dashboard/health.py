"""What the Health page shows, gathered without Streamlit: models, stores, mode, versions.

Each function returns plain data (dicts, polars frames) that ``views/health.py`` lays out and
``tests/dashboard/test_helpers.py`` checks.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import polars as pl

from pipelines import analytics
from pipelines.config import Settings
from pipelines.errors import InletError
from pipelines.store import Store

PACKAGES = ("inlet", "prefect", "streamlit", "lancedb", "duckdb", "polars", "pyarrow",
            "sentence-transformers", "onnxruntime", "faster-whisper", "ctranslate2", "pypdf", "av")  # fmt: skip
ANALYTICS_TABLES = ("jobs", "events", "errors", "searches")


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under ``folder`` (0 when it does not exist)."""
    if not folder.exists():
        return 0
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:  # removed meanwhile (a compaction, a finished upload)
                continue
    return total


def models(settings: Settings, embedder_loaded: bool) -> list[dict[str, Any]]:
    """The embedding and transcription models: name, where found (or why not), loaded here."""
    from pipelines.embed import resolve_embed_model
    from pipelines.extract.audio import resolve_whisper_model

    rows = []
    for role, name, resolve in (("embed", settings.embed_model, resolve_embed_model),
                                ("whisper", settings.whisper_model, resolve_whisper_model)):  # fmt: skip
        try:
            where, problem = resolve(name), None
            if not Path(where).exists():
                where, problem = None, f"{name} is not a folder and was not found among installed models"
        except InletError as exc:
            where, problem = None, f"{exc.message}. {exc.hint}"
        rows.append({"role": role, "name": name, "where": where, "problem": problem,
                     "loaded": embedder_loaded if role == "embed" else None})  # fmt: skip
    return rows


def stores(settings: Settings) -> pl.DataFrame:
    """One row per store: ``what``, ``rows`` (sources, chunks, analytics rows), ``bytes``."""
    store = Store(settings)
    rows: list[dict[str, Any]] = [
        {"what": "sources", "rows": store.source_rows().height, "bytes": None},
        {"what": "chunks", "rows": store.count_chunks(), "bytes": folder_bytes(settings.lancedb_dir)},
    ]
    counts = analytics.query(
        settings, "SELECT " + ", ".join(f"(SELECT count(*) FROM {t}) AS {t}" for t in ANALYTICS_TABLES)
    ).row(0, named=True)
    for table in ANALYTICS_TABLES:
        rows.append({"what": f"analytics: {table}", "rows": int(counts[table]),
                     "bytes": folder_bytes(settings.analytics_dir / table)})  # fmt: skip
    rows.append({"what": "uploads", "rows": None, "bytes": folder_bytes(settings.uploads_dir)})
    rows.append({"what": "extraction cache", "rows": None, "bytes": folder_bytes(settings.cache_dir)})
    return pl.DataFrame(rows, schema={"what": pl.Utf8, "rows": pl.Int64, "bytes": pl.Int64})


def server_answers(url: str, timeout_s: float = 2.0) -> tuple[bool, str]:
    """Whether a Prefect server answers ``GET {url}/health``; the reason when it does not."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout_s) as response:  # noqa: S310
            return response.status == 200, f"HTTP {response.status}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return False, str(getattr(exc, "reason", exc))


def flow_run_url(api_url: str | None, flow_run_id: str | None) -> str | None:
    """The Prefect UI page of a flow run, from the API URL (``…/api`` → ``…/runs/flow-run/ID``).

    >>> flow_run_url("http://127.0.0.1:4200/api", "0a1b")
    'http://127.0.0.1:4200/runs/flow-run/0a1b'
    >>> flow_run_url(None, "0a1b") is None
    True
    """
    if not api_url or not flow_run_id:
        return None
    base = api_url.rstrip("/")
    base = base[: -len("/api")] if base.endswith("/api") else base
    return f"{base}/runs/flow-run/{flow_run_id}"


def versions(packages: tuple[str, ...] = PACKAGES) -> pl.DataFrame:
    """Installed version of each package (``not installed`` when absent)."""
    rows = []
    for name in packages:
        try:
            rows.append({"package": name, "version": version(name)})
        except PackageNotFoundError:
            rows.append({"package": name, "version": "not installed"})
    return pl.DataFrame(rows, schema={"package": pl.Utf8, "version": pl.Utf8})
