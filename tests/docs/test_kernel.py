"""The public API called twice in one real Jupyter kernel (ipykernel): it works inside the
kernel's running event loop, and the second round loads no model again, neither in the kernel
(the query embedder) nor in the local worker that ran both ingest jobs."""

from __future__ import annotations

import ast
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel

from tests.conftest import SAMPLES

pytestmark = pytest.mark.slow


class Kernel:
    """A started ipykernel; :meth:`run` executes a cell and gives back its value as Python."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.manager, self.client = start_new_kernel(kernel_name="python3", env=env, cwd=str(cwd))

    def run(self, code: str, timeout: float = 600) -> Any:
        outputs: list[dict[str, Any]] = []

        def keep(msg: dict[str, Any]) -> None:
            if msg["msg_type"] in ("execute_result", "error", "stream"):
                outputs.append({"type": msg["msg_type"], **msg["content"]})

        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=keep)
        if reply["content"]["status"] != "ok":
            trace = "\n".join(reply["content"].get("traceback", []))
            raise AssertionError(f"cell failed: {reply['content'].get('ename')}\n{trace}")
        results = [o for o in outputs if o["type"] == "execute_result"]
        return ast.literal_eval(results[-1]["data"]["text/plain"]) if results else None

    def stop(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture
def kernel(inlet_home: Path, tmp_path: Path) -> Iterator[Kernel]:
    env = dict(os.environ, INLET_HOME=str(inlet_home), INLET_WORKER_IDLE_S="120")
    started = Kernel(env, tmp_path)
    yield started
    started.stop()


def test_two_rounds_in_one_kernel_load_the_models_once(kernel: Kernel, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("lincoln_second_inaugural.md", "gettysburg_address.pdf"):
        shutil.copy(SAMPLES / name, corpus / name)

    # Cells run inside the kernel's asyncio loop: a bare asyncio.run() would fail here.
    assert kernel.run("import asyncio\nasyncio.get_event_loop().is_running()") is True
    kernel.run(
        "import inlet\n"
        "from flows.worker_lock import worker_pid\n"
        "from pipelines.config import get_settings\n"
        "import sys\n"
        "from pipelines.embed import _load_query_encoder\n"
        "rounds = []\n"
        "def round_(path, query):\n"
        "    job = inlet.ingest([path], collection='kernel', progress=False)\n"
        "    hits = inlet.search(query, collection='kernel', limit=2)\n"
        "    info = _load_query_encoder.cache_info()\n"
        "    rounds.append({'status': job['status'], 'chunks': job['chunks_written'],\n"
        "                   'worker': worker_pid(get_settings()), 'top': hits['file'].to_list(),\n"
        "                   'loads': info.misses, 'reuses': info.hits, 'torch': 'torch' in sys.modules})\n"
        "    return rounds[-1]"
    )
    first = kernel.run(f"round_({str(corpus / 'lincoln_second_inaugural.md')!r}, 'malice toward none')")
    second = kernel.run(
        f"round_({str(corpus / 'gettysburg_address.pdf')!r}, 'four score and seven years ago')"
    )

    assert first["status"] == second["status"] == "completed"
    assert first["chunks"] > 0 and second["chunks"] > 0
    assert set(first["top"]) == {"lincoln_second_inaugural.md"} and "gettysburg_address.pdf" in second["top"]
    # The kernel loaded the query encoder once (onnxruntime alone: no torch); the second search reused it.
    assert first["loads"] == second["loads"] == 1 and second["reuses"] > first["reuses"]
    assert first["torch"] is second["torch"] is False
    # One local worker, started by the first call, ran both jobs and loaded its embedder once.
    assert first["worker"] is not None and first["worker"] == second["worker"]
    log = (Path(os.environ["INLET_HOME"]) / "logs" / "worker.log").read_text()
    assert log.count(f"worker[{first['worker']}]") > 0
    loads = [line for line in log.splitlines() if "loaded all-MiniLM-L6-v2" in line]
    assert len(loads) == 1, loads
