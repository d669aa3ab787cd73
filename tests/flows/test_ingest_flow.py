"""The ingest flow end to end, under a real Prefect server (the test harness)."""

import json
import shutil
import time
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

import inlet
from pipelines.config import get_settings
from pipelines.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

GOOD = {
    "crazyones.pdf": "pdfs/pypdf/crazyones.pdf",
    "irs-instructions.pdf": "pdfs/pdfminer/i1040nr.pdf",
    "jfk.flac": "audio/fw_jfk.flac",
    "notes.txt": "pdfs/pypdf/crazyones.txt",
    "silent-film.mp4": "audio/video/moviepy_example.mp4",  # no sound: indexed by its picture
}
BAD = {  # file name -> expected error class
    "scan.pdf": "no_text_layer",
    "locked.pdf": "encrypted_pdf",
    "empty.pdf": "empty",
    "truncated.pdf": "damaged_pdf",
    "archive.pdf": "unsupported_format",
}


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> Path:
    folder = tmp_path_factory.mktemp("mixed")
    for name, rel in GOOD.items():
        shutil.copy(shared / rel, folder / name)
    shutil.copy(shared / "pdfs/pypdf/imagemagick-CCITTFaxDecode.pdf", folder / "scan.pdf")
    shutil.copy(shared / "pdfs/pypdf/encryption/r4-aes-user-password.pdf", folder / "locked.pdf")
    (folder / "empty.pdf").write_bytes(b"")
    data = (shared / "pdfs/pdfminer/i1040nr.pdf").read_bytes()
    (folder / "truncated.pdf").write_bytes(data[: len(data) // 3])
    with zipfile.ZipFile(folder / "archive.pdf", "w") as z:
        z.writestr("a.txt", "not a pdf")
    return folder


@pytest.fixture(scope="module")
def ingested(mixed_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    home = tmp_path_factory.mktemp("home")
    return inlet.ingest([mixed_folder], collection="research", home=home), home


def test_bad_files_get_their_class_and_good_files_are_ingested(ingested) -> None:  # noqa: ANN001
    summary, home = ingested
    by_file = {s["file"]: s for s in summary["sources"]}
    assert summary["status"] == "partially_failed"
    for name in GOOD:
        assert by_file[name]["status"] == "ingested", by_file[name]
        assert by_file[name]["chunks"] >= 1
    for name, cls in BAD.items():
        error = by_file[name]["error"]
        assert by_file[name]["status"] == "failed" and error["class"] == cls, by_file[name]
        assert error["message"] and error["hint"] and error["retryable"] is False
    assert summary["chunks_written"] == Store(get_settings(home=home)).count_chunks()
    # Failures are kept for `inlet errors`.
    errors = inlet.errors(home=home)
    assert sorted(errors["file"].to_list()) == sorted(BAD)
    assert set(errors["job_id"]) == {summary["job_id"]}
    stats = inlet.stats(home=home)
    assert stats["sources"] == len(GOOD) and stats["chunks"] == summary["chunks_written"]


def test_a_phrase_from_a_pdf_is_found_on_its_page(ingested, shared: Path) -> None:  # noqa: ANN001
    _, home = ingested
    page = 30
    text = " ".join(PdfReader(shared / "pdfs/pdfminer/i1040nr.pdf").pages[page - 1].extract_text().split())
    words = text.split()
    phrase = " ".join(words[len(words) // 2 : len(words) // 2 + 12])
    for mode in ("text", "hybrid"):
        hits = inlet.search(phrase, mode=mode, limit=3, home=home)
        top = hits.row(0, named=True)
        assert top["file"] == "irs-instructions.pdf", (mode, phrase, top)
        assert top["page_start"] <= page <= top["page_end"], (mode, top)
        assert "**" in top["snippet"]


def test_speech_is_found_by_a_paraphrase_at_the_right_seconds(ingested) -> None:  # noqa: ANN001
    _, home = ingested
    hits = inlet.search("don't ask what the nation gives you, ask how you can serve it", limit=3, home=home)
    top = hits.row(0, named=True)
    assert top["file"] == "jfk.flac" and top["kind"] == "audio"
    assert 0.0 <= top["time_start"] < top["time_end"] <= 11.5
    shown = inlet.show("jfk.flac", home=home)
    assert shown["language"] == "en" and shown["segments"][0]["start"] == pytest.approx(0.0, abs=1.0)


def test_each_source_s_events_carry_its_peak_memory(ingested) -> None:  # noqa: ANN001
    from pipelines import analytics

    _, home = ingested
    settings = get_settings(home=home)
    rows = analytics.query(
        settings, "SELECT file, stage, peak_mb FROM events WHERE event = 'end' AND stage IN "
        "('extract', 'transcribe', 'index') ORDER BY file, stage",
    ).to_dicts()  # fmt: skip
    peaks = {(r["file"], r["stage"]): r["peak_mb"] for r in rows}
    pdf = peaks[("crazyones.pdf", "extract")]  # parsed in the bounded child
    assert pdf is not None and 0 < pdf < settings.extract_memory_mb
    assert 0 < peaks[("jfk.flac", "transcribe")] < 8192  # the worker's own figure
    assert all(0 < peaks[(name, "index")] < 8192 for name in GOOD)
    stages = {r["stage"]: r for r in analytics.statistics(settings)["stages"].to_dicts()}
    assert stages["extract"]["peak_mb_max"] >= pdf > 0
    assert 0 < stages["index"]["peak_mb_p50"] <= stages["index"]["peak_mb_max"]


def test_ingesting_twice_writes_and_embeds_nothing(ingested, mixed_folder: Path) -> None:  # noqa: ANN001
    first, home = ingested
    store = Store(get_settings(home=home))
    before = (store.count_chunks(), store.chunks().version)
    again = inlet.ingest([mixed_folder], collection="research", home=home)
    good = [s for s in again["sources"] if s["file"] in GOOD]
    assert {s["status"] for s in good} == {"unchanged"}
    assert again["chunks_written"] == 0 and again["embedded"] == 0
    assert (store.count_chunks(), store.chunks().version) == before


def test_a_changed_file_replaces_its_chunks(tmp_path: Path) -> None:
    doc = tmp_path / "notes.md"
    doc.write_text("# Tides\n\nThe moon pulls the oceans and makes the tides.\n")
    assert inlet.ingest([doc], collection="c")["status"] == "completed"
    doc.write_text("# Volcanoes\n\nMagma rises through the crust and erupts.\n")
    summary = inlet.ingest([doc], collection="c")
    assert summary["sources"][0]["status"] == "ingested"
    texts = Store(get_settings()).chunk_rows(collection="c")["text"].to_list()
    assert len(texts) == 1 and "Magma" in texts[0]


def test_a_stage_past_its_time_limit_is_a_timeout_error(shared: Path, tmp_path: Path) -> None:
    clip = tmp_path / "long.mp3"
    shutil.copy(shared / "audio/fw_multilingual.mp3", clip)  # 60 s of speech
    started = time.monotonic()
    summary = inlet.ingest([clip], timeout_transcribe_s=1.0, retries=0)
    error = summary["sources"][0]["error"]
    assert summary["status"] == "failed" and error["class"] == "timeout", summary
    assert "INLET_TIMEOUT_" in error["hint"]
    assert time.monotonic() - started < 30


def _artifacts(flow_run_id: str) -> list:  # noqa: ANN401 - Prefect's Artifact records
    """The artifacts of a flow run on the Prefect server of this test's home (the local worker's,
    still up after a job) or on the test harness's."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flows.submit import api

    with api(get_settings(), start=False), get_client(sync_client=True) as client:
        only = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        return client.read_artifacts(artifact_filter=only)


def test_the_flow_run_shows_the_job_done_and_a_row_per_file_in_prefect(tmp_path: Path, shared: Path) -> None:
    shutil.copy(shared / "pdfs/pypdf/crazyones.txt", tmp_path / "notes.txt")
    (tmp_path / "empty.pdf").write_bytes(b"")
    summary = inlet.ingest([tmp_path], collection="c")
    artifacts = _artifacts(summary["flow_run_id"])
    assert [a.data for a in artifacts if a.type == "progress"] == [100.0]
    (table,) = [a for a in artifacts if a.type == "table"]
    assert table.key == f"job-{summary['job_id']}" and "partially_failed" in table.description
    rows = {row["file"]: row for row in json.loads(table.data)}
    assert rows["empty.pdf"]["status"] == "failed" and rows["empty.pdf"]["error"] == "empty"
    assert rows["notes.txt"]["status"] == "ingested" and int(rows["notes.txt"]["chunks"]) >= 1


class _Job:  # what ProgressArtifact asks of a job
    job_id = "j-progress"

    def __init__(self) -> None:
        self.done = 0.0

    def progress(self) -> float:
        return self.done


@pytest.mark.parametrize("every_s", [60.0, 0.0])
def test_the_progress_artifact_is_sent_at_most_every_report_interval_and_always_at_the_end(
    every_s: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect import flow
    from prefect.runtime import flow_run

    from flows import ingest

    monkeypatch.setattr(ingest, "REPORT_EVERY_S", every_s)
    calls: list[str] = []
    for name in ("create_progress_artifact", "update_progress_artifact"):
        real = getattr(ingest, name)
        monkeypatch.setattr(
            ingest, name, lambda *a, _real=real, _name=name, **k: (calls.append(_name), _real(*a, **k))[1]
        )

    @flow
    def reporting() -> str:
        job = _Job()
        artifact = ingest.ProgressArtifact(job)  # type: ignore[arg-type]
        for done in (0.25, 0.5, 0.75):
            job.done = done
            artifact.report()
        job.done = 1.0
        artifact.report(final=True)
        artifact.report(final=True)  # nothing changed: nothing sent
        return str(flow_run.get_id())

    artifacts = _artifacts(reporting())
    assert [a.data for a in artifacts if a.type == "progress"] == [100.0]
    # a quick job makes one call; with no interval every change is sent, the same artifact updated
    expected = (
        ["create_progress_artifact"]
        if every_s
        else ["create_progress_artifact"] + ["update_progress_artifact"] * 3
    )
    assert calls == expected
