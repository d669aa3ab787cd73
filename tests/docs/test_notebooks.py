"""Every example notebook runs top to bottom in a real kernel, and computes what it says."""

import ast
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO, SAMPLES

pytestmark = pytest.mark.slow


def _execute(name: str, home: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
    env_before = dict(os.environ)
    os.environ.update({"INLET_HOME": str(home), "INLET_SAMPLES": str(SAMPLES)})
    try:
        NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(REPO / "notebooks")}}
        ).execute()
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    return nb


def _result(nb: nbformat.NotebookNode, source_start: str) -> str:
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(source_start))
    data = [o.get("data", {}) for o in cell.outputs]
    return "".join(d.get("text/markdown", d.get("text/plain", "")) for d in data)


def test_quickstart(tmp_path: Path) -> None:
    nb = _execute("01_quickstart.ipynb", tmp_path / "home")
    assert ast.literal_eval(_result(nb, 'job["status"]')) == ("completed", 18)
    assert "jfk_inaugural_excerpt.wav" in _result(nb, "from IPython.display")
    assert ast.literal_eval(_result(nb, "pdf_hit = ")) == ("declaration_of_independence.pdf", 1, 2)
    statuses = ast.literal_eval(_result(nb, "again = "))
    assert set(statuses.values()) == {"unchanged"} and len(statuses) == 5
    # The job summary renders as an HTML table in the notebook.
    job_cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("import inlet"))
    assert any("text/html" in o.get("data", {}) for o in job_cell.outputs)
