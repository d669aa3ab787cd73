"""Tasks take plain values that pickle, so a task runner other than threads can run them.

The ingest flow is run with Prefect's process-pool task runner: every extract task's arguments
cross a process boundary (as they would to a Dask or Ray worker), run there, and write their
events from there. The index task, which the flow calls in its own process, gets its arguments
pickled and unpickled here.
"""

import pickle
import shutil
from pathlib import Path

import pytest
from prefect.task_runners import ProcessPoolTaskRunner

import inlet
from flows.ingest import ingest_flow
from flows.job import JobContext
from flows.tasks import extract_cached
from pipelines import analytics
from pipelines.config import get_settings
from pipelines.sources import inspect

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def test_the_ingest_flow_runs_its_extract_tasks_in_other_processes(tmp_path: Path, shared: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(shared / "pdfs/pypdf/crazyones.pdf", folder / "crazyones.pdf")  # a task of its own
    (folder / "a.txt").write_text("Herons wade in the shallow marsh at dawn, hunting small fish.\n")
    (folder / "b.md").write_text("# Lighthouses\n\nA lighthouse keeper trims the lamp's wick every night.\n")
    # large_pdf_bytes=1: the PDF goes through extract_one, the two texts through extract_batch.
    settings = get_settings(home=tmp_path / "home", large_pdf_bytes=1, small_file_batch=2)
    flow = ingest_flow.with_options(task_runner=ProcessPoolTaskRunner(max_workers=2))

    summary = flow([str(folder)], collection="c", settings=settings, job_id="pickled1")

    by_file = {s["file"]: s for s in summary["sources"]}
    assert summary["status"] == "completed", summary
    assert {name: s["status"] for name, s in by_file.items()} == dict.fromkeys(
        ["crazyones.pdf", "a.txt", "b.md"], "ingested"
    )
    hits = inlet.search("lamp wick lighthouse keeper", collection="c", mode="text", home=settings.home)
    assert hits["file"][0] == "b.md"
    # The events the tasks wrote in the other processes are in the job's record.
    events = analytics.query(
        settings, "SELECT file, event FROM events WHERE job_id = ? AND stage = 'extract'", ["pickled1"]
    )
    for event in ("start", "end"):
        files = events.filter(events["event"] == event)["file"].to_list()
        assert sorted(files) == ["a.txt", "b.md", "crazyones.pdf"], (event, events)


def test_the_index_task_arguments_survive_pickling(tmp_path: Path, shared: Path) -> None:
    settings = get_settings(home=tmp_path / "home")
    source = inspect(shared / "pdfs/pypdf/crazyones.pdf", settings)
    extraction = extract_cached(source, settings)
    arguments = ([extraction], {source.source_id: ["old-id"]}, JobContext("j1", "c", settings, "run-id"))

    extractions, replaces, context = pickle.loads(pickle.dumps(arguments))

    assert extractions == [extraction] and replaces == {source.source_id: ["old-id"]}
    assert context == arguments[2] and context.settings.home == settings.home
