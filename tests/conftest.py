"""Shared fixtures: an isolated home folder per test, the real shared data, one Prefect harness.

Prefect's own state goes to a temporary folder for the whole session (set before any import
of ``flows``); every test gets a fresh ``INLET_HOME``; exported models are shared by the session
so the ONNX export happens once.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="inlet-tests-"))
atexit.register(shutil.rmtree, _SESSION_DIR, ignore_errors=True)  # a quarter gigabyte a session
os.environ["PREFECT_HOME"] = str(_SESSION_DIR / "prefect")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ["INLET_MODELS_DIR"] = str(_SESSION_DIR / "models")

REPO = Path(__file__).resolve().parents[1]


def bench_script(name: str) -> ModuleType:
    """``bench/<name>.py`` imported as a module (the bench folder is scripts, not a package),
    once per session."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


SHARED = REPO.parent / "shared" / "data"
SAMPLES = REPO / "samples" / "corpus"


def pytest_report_header(config: pytest.Config) -> str:
    from importlib.metadata import version

    names = [
        "prefect",
        "lancedb",
        "duckdb",
        "polars",
        "pypdf",
        "faster-whisper",
        "sentence-transformers",
        "streamlit",
    ]
    return "inlet stack: " + ", ".join(f"{n} {version(n)}" for n in names)


@pytest.fixture(autouse=True)
def inlet_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty home folder; no INLET_* setting leaks between tests."""
    for name in list(os.environ):
        if name.startswith("INLET_") and name != "INLET_MODELS_DIR":
            monkeypatch.delenv(name)
    home = tmp_path / "inlet-home"
    monkeypatch.setenv("INLET_HOME", str(home))
    monkeypatch.setenv("INLET_WORKER_IDLE_S", "20")  # local workers started by a test go soon
    return home


@pytest.fixture(scope="session", autouse=True)
def _stop_local_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the session, stop the local workers that its tests started (their homes
    are under this session's temporary folder); each also stops by itself after
    ``INLET_WORKER_IDLE_S``."""
    yield
    stop_local_workers(str(tmp_path_factory.getbasetemp()))


def stop_local_workers(under: str) -> list[int]:
    """Terminate ``flows.worker`` processes serving a home inside the folder ``under``."""
    import psutil

    stopped = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if "flows.worker" not in (process.info["cmdline"] or []):
                continue
            if process.environ().get("INLET_HOME", "").startswith(under):
                if os.getpgid(process.pid) == process.pid:  # its own group: with its Prefect server
                    os.killpg(process.pid, signal.SIGTERM)
                else:
                    process.terminate()
                stopped.append(process.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
            continue
    psutil.wait_procs([psutil.Process(pid) for pid in stopped if psutil.pid_exists(pid)], timeout=10)
    return stopped


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared real test files (``../shared/data`` beside the checkout)."""
    if not SHARED.is_dir():
        pytest.fail(f"The shared test data is missing: expected {SHARED}")
    return SHARED


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """An S3 server on a free loopback port (moto, ``tests.s3_server``) for the tests of a
    module; they are skipped where moto's server is not installed or does not start."""
    from tests.s3_server import serving_s3

    with contextlib.ExitStack() as running:
        try:
            url = running.enter_context(serving_s3())
        except (FileNotFoundError, RuntimeError) as exc:
            pytest.skip(str(exc))
        yield url


@pytest.fixture
def store(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new empty bucket on the S3 server (``s3_endpoint``); the AWS variables point at it and
    ``INLET_STORE`` names it (with a prefix). Returns the store's address."""
    from tests.s3_server import aws_env, new_store

    for name, value in aws_env(s3_endpoint).items():
        monkeypatch.setenv(name, value)
    uri = new_store(s3_endpoint)
    monkeypatch.setenv("INLET_STORE", uri)
    return uri


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One real Prefect API server (temporary SQLite) for every flow test of the session."""
    from prefect.testing.utilities import prefect_test_harness

    import flows  # noqa: F401  - sets Prefect's environment before prefect is imported

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def embedder():  # noqa: ANN201
    """The default embedder, loaded once."""
    from pipelines.config import get_settings
    from pipelines.embed import load_embedder

    return load_embedder(get_settings(home=_SESSION_DIR / "home"))
