"""Retries, caching, priorities and cancel, on real Prefect (the harness) and real stores."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from prefect.task_runners import ThreadPoolTaskRunner

from flows.ingest import ingest_flow
from pipelines import analytics
from pipelines.config import get_settings
from pipelines.search import search
from pipelines.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples" / "corpus"


def events(settings, job_id: str):  # noqa: ANN001, ANN201
    return analytics.query(settings, 'SELECT * FROM events WHERE job_id = ? ORDER BY "at"', [job_id])


def cancel_on_event(
    settings, job_id: str, *, stage: str, event: str, delay_s: float = 0.0
) -> threading.Thread:  # noqa: ANN001
    """A started thread that cancels ``job_id``'s flow run through the Prefect API (what the
    UI's Cancel button and ``inlet cancel`` do) ``delay_s`` after its first ``stage`` ``event``;
    join it after the flow."""
    from flows.submit import cancel_flow_run, job_row

    def watch() -> None:
        deadline = time.monotonic() + 300
        sql = "SELECT count(*) AS n FROM events WHERE job_id = ? AND stage = ? AND event = ?"
        while time.monotonic() < deadline:
            if analytics.query(settings, sql, [job_id, stage, event])["n"][0]:
                time.sleep(delay_s)
                assert cancel_flow_run(job_row(settings, job_id)["flow_run_id"]) == "cancelling"
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    return watcher


def test_a_transient_fault_is_retried_with_growing_delays(tmp_path: Path) -> None:
    pdf = shutil.copy(SAMPLES / "gettysburg_address.pdf", tmp_path / "speech.pdf")
    settings = get_settings(
        fault_injection="extract:transient:2", retries=3, retry_delay_s=0.5, retry_jitter=0, large_pdf_bytes=1
    )
    summary = ingest_flow([str(pdf)], collection="c", settings=settings, job_id="transient1")
    assert summary["status"] == "completed" and summary["sources"][0]["chunks"] > 0
    rows = events(settings, "transient1").filter(stage="extract")
    assert rows["event"].to_list() == ["start", "retry", "start", "retry", "start", "end"]
    assert rows["attempt"].to_list() == [1, 1, 2, 2, 3, 3]
    assert rows.filter(event="retry")["error_class"].to_list() == ["store_unavailable"] * 2
    at = rows["at"].to_list()
    first_gap, second_gap = (at[2] - at[1]).total_seconds(), (at[4] - at[3]).total_seconds()
    assert first_gap >= 0.5 and second_gap >= 1.0 and second_gap > first_gap
    assert analytics.query(settings, "SELECT count(*) AS n FROM errors")["n"][0] == 0


def test_a_permanent_fault_is_not_retried_and_spares_the_other_sources(tmp_path: Path) -> None:
    pdf = shutil.copy(SAMPLES / "gettysburg_address.pdf", tmp_path / "speech.pdf")
    text = shutil.copy(SAMPLES / "lincoln_second_inaugural.md", tmp_path / "notes.md")
    settings = get_settings(
        fault_injection="extract:permanent", retries=3, retry_delay_s=0.2, large_pdf_bytes=1
    )
    summary = ingest_flow([str(tmp_path)], collection="c", settings=settings, job_id="permanent1")
    by_file = {s["file"]: s for s in summary["sources"]}
    assert summary["status"] == "failed"  # the batch of small files meets the same fault
    assert by_file[pdf.name]["error"]["class"] == "internal"
    assert by_file[text.name]["error"]["class"] == "internal"
    starts = events(settings, "permanent1").filter(stage="extract", file=pdf.name)
    assert starts["event"].to_list() == ["start", "fail"]  # one attempt, no retry
    assert analytics.query(settings, "SELECT max(attempt) AS a FROM errors")["a"][0] == 1


def test_a_run_stopped_before_any_file_is_a_failed_job_that_says_why(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "lancedb").write_text("a file where the store's folder should be")
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "notes.txt").write_text("Words that never reach the store.")
    settings = get_settings(home=home)

    with pytest.raises(Exception, match="Cannot open the store"):
        ingest_flow([str(tmp_path / "files")], collection="c", settings=settings, job_id="nostore1")

    job = analytics.jobs(settings, job_id="nostore1").row(0, named=True)
    assert (job["status"], job["sources"]) == ("failed", 0), job
    found = analytics.errors(settings, job_id="nostore1")
    assert found.height == 1
    assert (found["class"][0], found["stage"][0]) == ("store_unavailable", "flow")
    assert "INLET_HOME" in found["hint"][0]
    from click.testing import CliRunner

    from inlet.cli import main as cli

    shown = CliRunner().invoke(cli, ["jobs", "nostore1"], env={"INLET_HOME": str(home)})
    assert shown.exit_code == 0, shown.output
    assert "nostore1: failed, no file recorded" in shown.output
    assert "store_unavailable: Cannot open the store" in shown.output


def test_a_cached_transcript_is_reused_by_a_new_process(tmp_path: Path) -> None:
    audio = SAMPLES / "jfk_inaugural_excerpt.wav"
    home = tmp_path / "home"
    script = """
import json, sys
import flows
from flows.ingest import ingest_flow
from pipelines.config import get_settings
from pipelines.extract.audio import load_whisper
summary = ingest_flow([sys.argv[1]], collection=sys.argv[2], settings=get_settings())
print(json.dumps({"status": summary["status"], "whisper_loads": load_whisper.cache_info().misses}))
"""
    env = {**os.environ, "INLET_HOME": str(home), "PREFECT_LOGGING_LEVEL": "ERROR"}

    def run(collection: str) -> dict:
        done = subprocess.run(
            [sys.executable, "-c", script, str(audio), collection],
            env=env, cwd=REPO, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    # tiny.en and the multilingual model that tells the language of the speech
    assert run("first") == {"status": "completed", "whisper_loads": 2}
    assert run("second") == {"status": "completed", "whisper_loads": 0}  # the transcript came from the cache
    settings = get_settings(home=home)
    cached = analytics.query(
        settings, "SELECT collection, cached FROM events WHERE stage = 'transcribe' AND event = 'end'"
    )
    assert dict(cached.iter_rows()) == {"first": False, "second": True}
    assert search(Store(settings), "ask not", None, mode="text", collection="second").height >= 1


def test_a_running_job_stops_keeps_what_it_finished_and_marks_the_rest(tmp_path: Path, shared: Path) -> None:

    corpus = shared / "retrieval" / "scifact" / "corpus.jsonl"
    docs = []
    with corpus.open() as lines:
        for i, line in zip(range(6), lines, strict=False):
            record = json.loads(line)
            path = tmp_path / "docs" / f"doc{i}.txt"
            path.parent.mkdir(exist_ok=True)
            # Each file long enough that its embedding takes a moment.
            path.write_text((record["title"] + "\n\n" + record["text"] + "\n") * 6)
            docs.append(path)
    settings = get_settings(small_file_batch=1, index_batch_chunks=1)  # index each file as it is read
    job_id = "cancel1"

    watcher = cancel_on_event(settings, job_id, stage="index", event="end")  # after the first source
    flow = ingest_flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=1))
    summary = flow([str(tmp_path / "docs")], collection="c", settings=settings, job_id=job_id)
    watcher.join()
    statuses = [s["status"] for s in summary["sources"]]
    assert summary["status"] == "cancelled"
    assert statuses.count("ingested") >= 1 and statuses.count("cancelled") >= 1, statuses
    store = Store(settings)
    ingested = {s["source_id"] for s in summary["sources"] if s["status"] == "ingested"}
    assert set(store.source_rows()["source_id"].to_list()) == ingested  # nothing of the rest
    assert store.count_chunks() == sum(s["chunks"] for s in summary["sources"])
    rows = events(settings, job_id).filter(event="cancel")
    assert rows.height == statuses.count("cancelled")


def test_a_cancel_stops_a_transcription_under_way(tmp_path: Path, shared: Path) -> None:
    import wave

    import numpy as np
    from faster_whisper import decode_audio

    # Five and a half minutes of speech: transcribing it all takes far longer than the cancel.
    speech = decode_audio(str(shared / "audio" / "fw_jfk.flac"), sampling_rate=16000)
    long_talk = np.tile(speech, 30)
    recording = tmp_path / "long_talk.wav"
    with wave.open(str(recording), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes((np.clip(long_talk, -1, 1) * 32767).astype("<i2").tobytes())
    settings = get_settings()
    job_id = "cancel-transcribe"

    watcher = cancel_on_event(settings, job_id, stage="transcribe", event="start", delay_s=2)  # mid-recording
    summary = ingest_flow([str(recording)], collection="c", settings=settings, job_id=job_id)
    watcher.join()
    assert summary["status"] == "cancelled"
    assert [s["status"] for s in summary["sources"]] == ["cancelled"]
    rows = events(settings, job_id)
    assert rows.filter(stage="transcribe")["event"].to_list() == ["start"]  # it never ended
    assert rows.filter(event="cancel").height == 1
    assert Store(settings).count_chunks() == 0
    assert not any(settings.cache_dir.rglob("*.json"))  # no partial transcript kept
