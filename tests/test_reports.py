"""Reports over a real ingest run whose figures are known: the sample corpus (pages counted by
pypdf, seconds of audio from the WAV header) plus three bad files from the shared data."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import polars as pl
import pytest
from pypdf import PdfReader

import inlet

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "corpus"
BAD = {"scan.pdf": "no_text_layer", "locked.pdf": "encrypted_pdf", "empty.pdf": "empty"}


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory, shared: Path, prefect_harness: None
) -> tuple[dict, Path, Path]:
    folder = tmp_path_factory.mktemp("corpus")
    for path in SAMPLES.iterdir():
        shutil.copy(path, folder / path.name)
    shutil.copy(shared / "pdfs/pypdf/imagemagick-CCITTFaxDecode.pdf", folder / "scan.pdf")
    shutil.copy(shared / "pdfs/pypdf/encryption/r4-aes-user-password.pdf", folder / "locked.pdf")
    (folder / "empty.pdf").write_bytes(b"")
    home = tmp_path_factory.mktemp("home")
    return inlet.ingest([folder], collection="known", home=home), home, folder


def _known(folder: Path) -> dict:
    pages = sum(len(PdfReader(p).pages) for p in SAMPLES.glob("*.pdf"))
    with wave.open(str(folder / "jfk_inaugural_excerpt.wav")) as w:
        audio_s = w.getnframes() / w.getframerate()
    return {"pages": pages, "audio_s": audio_s, "good": len(list(SAMPLES.iterdir())), "bad": len(BAD)}


def test_jobs_and_job_sources_show_the_run(run) -> None:  # noqa: ANN001
    summary, home, folder = run
    known = _known(folder)
    jobs = inlet.jobs(home=home)
    assert jobs.height == 1
    job = jobs.row(0, named=True)
    assert job["job_id"] == summary["job_id"] and job["status"] == "partially_failed"
    assert (job["progress"], job["sources"], job["failed"]) == (
        1.0,
        known["good"] + known["bad"],
        known["bad"],
    )
    assert job["collection"] == "known" and job["finished_at"] >= job["submitted_at"]
    files = inlet.job_sources(summary["job_id"], home=home)
    by_file = {r["file"]: r for r in files.to_dicts()}
    for name, cls in BAD.items():
        assert by_file[name]["status"] == "failed" and by_file[name]["error_class"] == cls
        assert by_file[name]["error_hint"] and by_file[name]["progress"] == 1.0
    ingested = {f for f, r in by_file.items() if r["status"] == "ingested"}
    assert ingested == {p.name for p in SAMPLES.iterdir()}


def test_statistics_give_the_known_figures(run) -> None:  # noqa: ANN001
    summary, home, folder = run
    known = _known(folder)
    stats = inlet.stats(home=home)
    assert stats["sources"] == known["good"] and stats["chunks"] == summary["chunks_written"]
    assert stats["errors"] == known["bad"] and stats["jobs"] == 1
    kinds = {r["kind"]: r for r in stats["by_kind"].to_dicts()}
    assert (
        kinds["pdf"]["succeeded"] == 3
        and kinds["audio"]["succeeded"] == 1
        and kinds["text"]["succeeded"] == 1
    )
    assert sum(r["failed"] for r in kinds.values()) == known["bad"]
    coll = stats["by_collection"].row(0, named=True)
    assert coll["collection"] == "known"
    assert coll["success_rate"] == pytest.approx(known["good"] / (known["good"] + known["bad"]), abs=1e-4)
    errors = stats["errors_by_class"].group_by("class").agg(pl.col("errors").sum())
    assert dict(errors.iter_rows()) == {cls: 1 for cls in BAD.values()}
    totals = inlet._reports.collection_summary(home=home).row(0, named=True)
    assert totals["pages"] == known["pages"] and totals["errors"] == known["bad"]
    assert totals["audio_minutes"] == pytest.approx(known["audio_s"] / 60, abs=0.01)
    # the library, the statistics and the report count a collection the same way
    listed = inlet.collections(home=home).row(0, named=True)
    assert stats["collections"] == {
        "known": {"sources": known["good"], "chunks": summary["chunks_written"], "model": listed["model"]}
    }
    assert listed["model"] == "all-MiniLM-L6-v2"  # the library and the statistics name the same model
    assert (listed["sources"], listed["chunks"], listed["pages"]) == (
        totals["sources"], totals["chunks"], totals["pages"]) == (
        known["good"], summary["chunks_written"], known["pages"])  # fmt: skip
    stages = {r["stage"]: r for r in stats["stages"].to_dicts()}
    timed = [s for s in stages.values() if s["ended"]]
    assert timed and all(s["p50_s"] <= s["p95_s"] <= s["max_s"] for s in timed)
    assert stats["health"]["last_success_at"] is not None and stats["health"]["stuck"] == 0


def test_export_writes_the_same_rows_in_three_formats(run, tmp_path: Path) -> None:  # noqa: ANN001
    summary, home, folder = run
    written = inlet.export(tmp_path / "pq", home=home)
    assert pl.read_parquet(written["jobs"])["job_id"].to_list() == [summary["job_id"]]
    assert sorted(pl.read_parquet(written["errors"])["file"].to_list()) == sorted(BAD)
    csv = inlet.export(tmp_path / "csv", format="csv", tables=["errors"], home=home)
    assert sorted(pl.read_csv(csv["errors"])["class"].to_list()) == sorted(BAD.values())
    md = inlet.export(tmp_path / "md", format="markdown", home=home)
    table = md["collections"].read_text().splitlines()
    assert table[2].startswith("| collection | sources | pages |") and "| known | 5 |" in table[4]
    assert len([line for line in md["errors"].read_text().splitlines() if line.startswith("| ")]) == 1 + len(
        BAD
    )
    with pytest.raises(ValueError, match="unknown export format"):
        inlet.export(tmp_path, format="xlsx", home=home)


def test_the_sources_export_carries_keywords_summary_and_category(run, tmp_path: Path) -> None:  # noqa: ANN001
    _, home, _ = run
    library = inlet.sources(home=home)
    kept = pl.read_parquet(inlet.export(tmp_path / "pq", tables=["sources"], home=home)["sources"])
    assert sorted(kept["file"].to_list()) == sorted(library["file"].to_list())
    assert (
        kept.schema["keywords"] == pl.List(pl.Utf8)
        and kept["keywords"].to_list() == library["keywords"].to_list()
    )
    flat = pl.read_csv(inlet.export(tmp_path / "csv", format="csv", tables=["sources"], home=home)["sources"])
    row = flat.filter(pl.col("file") == library["file"][0]).row(0, named=True)
    first = library.row(0, named=True)
    assert row["keywords"] == "; ".join(first["keywords"])
    for sentence in first["summary"]:  # each sentence, verbatim, then its citation in brackets
        assert f"{sentence['text']} [{sentence['citation']}]" in row["summary"]


def _cli(*args: str, home: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "inlet.cli", "--home", str(home), *args],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def test_cli_reports_in_json(run, tmp_path: Path) -> None:  # noqa: ANN001
    summary, home, folder = run
    jobs = _cli("jobs", "--json", home=home)["jobs"]
    keys = {"job_id", "status", "priority", "collection", "progress", "eta_s", "submitted_at", "finished_at",
            "sources", "failed"}  # fmt: skip
    assert keys <= set(jobs[0]) and jobs[0]["job_id"] == summary["job_id"]
    files = _cli("jobs", summary["job_id"], "--json", home=home)["sources"]
    assert len(files) == _known(folder)["good"] + len(BAD)
    stats = _cli("stats", "--json", home=home)
    assert stats["sources"] == _known(folder)["good"] and stats["chunks"] == summary["chunks_written"]
    assert {"by_kind", "stages", "retries", "queue", "health", "searches"} <= set(stats)
    errors = _cli("errors", "--class", "empty", "--since", "1d", "--json", home=home)["errors"]
    assert [e["file"] for e in errors] == ["empty.pdf"]
    files = _cli("export", str(tmp_path / "out"), "--format", "csv", "--json", home=home)["files"]
    assert set(files) == {"jobs", "errors", "collections", "sources"} and all(
        Path(p).exists() for p in files.values()
    )
