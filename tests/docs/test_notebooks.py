"""Every example notebook runs top to bottom in a real kernel, on the embedded default with a
fresh home folder, and computes what it says. The committed notebooks carry no outputs."""

import ast
import os
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient

from tests.conftest import REPO, SAMPLES, SHARED

NOTEBOOKS = REPO / "notebooks"
VEGA_LITE = "application/vnd.vegalite"
WIDGET = "application/vnd.jupyter.widget-view+json"


def test_committed_notebooks_have_no_outputs() -> None:
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert names == ["01_quickstart.ipynb", "02_search.ipynb", "03_analytics.ipynb", "04_deployments.ipynb"]
    for name in names:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{name}: outputs not stripped"


def _execute(name: str, home: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    env_before = dict(os.environ)
    os.environ.update(
        {
            "INLET_HOME": str(home),
            "INLET_SAMPLES": str(SAMPLES),
            "INLET_DATA": str(SHARED),
            "INLET_REPO": str(REPO),
        }
    )
    try:
        NotebookClient(
            nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
        ).execute()
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    return nb


def _cell(nb: nbformat.NotebookNode, source_start: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(source_start))


def _result(nb: nbformat.NotebookNode, source_start: str) -> str:
    data = [o.get("data", {}) for o in _cell(nb, source_start).outputs]
    return "".join(d.get("text/markdown", d.get("text/plain", "")) for d in data)


def _value(nb: nbformat.NotebookNode, source_start: str):  # noqa: ANN202
    return ast.literal_eval(_result(nb, source_start))


def _mimetypes(nb: nbformat.NotebookNode, source_start: str) -> set[str]:
    return {m for o in _cell(nb, source_start).outputs for m in o.get("data", {})}


def _has_chart(nb: nbformat.NotebookNode, source_start: str) -> bool:
    """The cell drew an Altair chart: a Vega-Lite bundle, or (Altair's default renderer outside
    JupyterLab) HTML that embeds one with vega-embed."""
    for output in _cell(nb, source_start).outputs:
        data = output.get("data", {})
        if any(m.startswith(VEGA_LITE) for m in data) or "vegaEmbed" in str(data.get("text/html", "")):
            return True
    return False


@pytest.mark.slow
def test_quickstart(tmp_path: Path) -> None:
    nb = _execute("01_quickstart.ipynb", tmp_path / "home")
    status, written, indexed = _value(nb, 'job["status"]')
    assert status == "completed" and written == indexed > 0
    # The job summary renders as an HTML table, the progress bar as a widget.
    assert {"text/html", WIDGET} <= _mimetypes(nb, "import inlet")
    assert "jfk_inaugural_excerpt.wav" in _result(nb, "from IPython.display")
    assert "And so, my fellow Americans" in _result(nb, 'shown = inlet.show(top["source_id"])')
    file, page_start, page_end = _value(nb, "pdf_hit = ")
    assert (file, page_start) == ("declaration_of_independence.pdf", 1) and page_end >= page_start
    assert "We hold these truths to be self-evident" in _result(nb, "cited = ")
    assert "(bill_of_rights.pdf, p. " in _result(nb, "bill = library.filter")
    verbatim = _value(nb, "pages = ")
    assert 2 <= len(verbatim) <= 4 and all(verbatim)  # each summary sentence is on its cited page
    categories = _value(nb, "inlet.set_labels(")
    assert categories["bill_of_rights.pdf"] == "rights" and categories["gettysburg_address.pdf"] == "war"
    rights = _value(nb, 'sorted(inlet.search("freedom"')
    assert rights and set(rights) <= {f for f, c in categories.items() if c == "rights"}
    statuses = _value(nb, "again = ")
    assert set(statuses.values()) == {"unchanged"} and len(statuses) == 5
    plan = _value(nb, 'inlet.delete("gettysburg_address.pdf"')
    assert plan["dry_run"] and [s["file"] for s in plan["sources"]] == ["gettysburg_address.pdf"]
    assert plan["chunks_removed"] > 0


@pytest.mark.slow
def test_search(tmp_path: Path) -> None:
    nb = _execute("02_search.ipynb", tmp_path / "home")
    assert _value(nb, '[s["status"] for s in summaries]') == ["completed", "completed"]
    modes, ask_not_top = _value(nb, 'sorted(per_mode["mode"]')
    assert modes == ["hybrid", "text", "vector"]
    assert ask_not_top == ["jfk_inaugural_excerpt.wav"]  # every mode finds the quote in the recording
    filters = _value(nb, "import datetime as dt")
    assert filters["kind='pdf'"] == ["pdf"] and filters["file='bill_of_rights.pdf'"] == ["bill_of_rights.pdf"]
    assert filters["since today"] > 0 and filters["since tomorrow"] == 0
    recall = _value(nb, '{row["mode"]: row["recall@5"]')
    assert set(recall) == {"vector", "text", "hybrid"} and all(0 <= r <= 1 for r in recall.values())
    assert max(recall.values()) >= 0.5  # 15 claims among ~50 abstracts: the best mode finds most
    assert _has_chart(nb, "import altair as alt")
    assert _has_chart(nb, "(\n    alt.Chart(scores)")


@pytest.mark.slow
def test_analytics(tmp_path: Path) -> None:
    nb = _execute("03_analytics.ipynb", tmp_path / "home")
    assert _value(nb, "retried = ") == ["completed", "partially_failed", "failed"]
    jobs_listed, jobs_made, same_ids = _value(nb, "history.height")
    assert jobs_listed == jobs_made == 3 and same_ids
    classes, errors, failed_in_jobs = _value(nb, "failed_in_jobs = ")
    assert errors == failed_in_jobs > 0 and "empty" in classes
    assert _has_chart(nb, "import altair as alt")
    printed = "".join(o.get("text", "") for o in _cell(nb, "written = inlet.export").outputs)
    assert "class" in printed and "empty.pdf" in printed  # the errors table, as Markdown


@pytest.mark.slow
def test_deployments(tmp_path: Path) -> None:
    nb = _execute("04_deployments.ipynb", tmp_path / "home")
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    assert _value(nb, 'sorted(deployments["deployment"]') == sorted(d["name"] for d in spec["deployments"])
    status, files = _value(nb, "import inlet")
    assert status == "partially_failed" and files == {
        "gettysburg_address.pdf": "ingested",
        "empty.md": "failed",
    }
    status = _value(nb, "status = inlet.status()")
    assert status["mode"] == "embedded" and status["server_up"] and status["work_pool"] == "inlet"
    linked, same_job, state = _value(nb, "from prefect.client.orchestration import get_client")
    assert linked and same_job and state == "Completed"
    deployed = _value(nb, "deployed")
    assert sorted(deployed) == sorted(d["name"] for d in spec["deployments"])
    assert deployed["maintenance"] == [("30 3 * * *", True)]
    retried = _value(nb, "from flows.retry import")
    assert list(retried["jobs"].values()) == ["failed"]
    store_chunks, indexed = _value(nb, 'maintenance["store"]["chunks"]')
    assert store_chunks == indexed > 0
