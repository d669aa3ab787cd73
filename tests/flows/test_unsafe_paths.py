"""Folders that hold links, pipes and odd names, ingested for real (Prefect harness): nothing from
outside the folder becomes searchable, nothing blocks, every refusal is in `inlet errors`."""

import os
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import inlet
from flows.inbox import inbox_flow
from pipelines.config import get_settings
from pipelines.store import Store
from tests.conftest import bench_script

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

SECRET = "Quetzalcoatl mortgage vouchers forty seven"
"""Words that only the file outside the ingested folder holds."""

ODD_NAMES = {  # name -> the words only that file holds
    "minutes\nfinal.txt": "The heron waded through the estuary at low tide.",
    "bell\x07\x1b[2J.txt": "Copper kettles whistle when the water boils.",
    "report\u202etxt.exe": "The glacier retreated nine metres last summer.",
    "l" * 251 + ".txt": "Beekeepers smoke the hive before opening it.",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("unsafe")
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"{SECRET}.\n")
    docs = base / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "sub" / "tides.txt").write_text("The moon pulls the oceans and makes the tides.\n")
    (docs / "passwd").symlink_to("/etc/passwd")
    (docs / "secret.txt").symlink_to("../outside/secret.txt")
    (docs / "outside-folder").symlink_to(outside, target_is_directory=True)
    (docs / "tides-again.txt").symlink_to("sub/tides.txt")  # inside: followed, same file
    (docs / "sub" / "up").symlink_to("..", target_is_directory=True)  # an ancestor: no loop
    os.mkfifo(docs / "pipe.txt")  # opening it would block for ever
    for name, text in ODD_NAMES.items():
        (docs / name).write_text(text + "\n")
    return docs


@pytest.fixture(scope="module")
def ingested(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, float]:
    home = tmp_path_factory.mktemp("home")
    started = time.monotonic()
    summary = inlet.ingest([folder], collection="c", home=home)
    return summary, home, time.monotonic() - started


def test_nothing_from_outside_the_folder_is_searchable(ingested) -> None:  # noqa: ANN001
    summary, home, _ = ingested
    root_line = Path("/etc/passwd").read_text().splitlines()[0]
    for query in (SECRET, root_line, "root"):
        for mode in ("text", "hybrid"):
            hits = inlet.search(query, mode=mode, limit=10, home=home)
            assert not any(("Quetzalcoatl" in t or "root:" in t) for t in hits["snippet"].to_list()), query
    texts = " ".join(Store(get_settings(home=home)).chunk_rows(collection="c")["text"].to_list())
    assert "Quetzalcoatl" not in texts and "root:x" not in texts and "/bin/" not in texts


def test_each_refusal_is_an_error_with_its_class_and_hint(ingested, folder: Path) -> None:  # noqa: ANN001
    summary, home, seconds = ingested
    assert seconds < 120  # the FIFO was never opened
    by_file = {s["file"]: s for s in summary["sources"]}
    for name, cls in {
        "passwd": "link_outside", "secret.txt": "link_outside", "outside-folder": "link_outside",
        "pipe.txt": "special_file",
    }.items():  # fmt: skip
        assert by_file[name]["status"] == "failed" and by_file[name]["error"]["class"] == cls, by_file[name]
    errors = inlet.errors(home=home)
    shown = {(r["file"], r["class"]): r for r in errors.iter_rows(named=True)}
    assert set(shown) == {
        ("passwd", "link_outside"), ("secret.txt", "link_outside"), ("outside-folder", "link_outside"),
        ("pipe.txt", "special_file"),
    }  # fmt: skip
    link = shown[("passwd", "link_outside")]
    assert link["path"] == str(folder / "passwd") and link["stage"] == "validate"
    assert "not followed" in link["hint"] and not link["retryable"]
    assert "regular files" in shown[("pipe.txt", "special_file")]["hint"]


def test_a_link_inside_the_folder_ingests_its_file_once(ingested, folder: Path) -> None:  # noqa: ANN001
    summary, home, _ = ingested
    tides = [s for s in summary["sources"] if s["path"] == str(folder / "sub" / "tides.txt")]
    assert [s["status"] for s in tides] == ["ingested"]
    sources = inlet.sources(home=home)
    assert sources.filter(sources["file"] == "tides.txt").height == 1
    assert not any("tides-again" in (s["file"] or "") for s in summary["sources"])


def test_odd_file_names_are_ingested_and_shown_on_one_line(ingested) -> None:  # noqa: ANN001
    summary, home, _ = ingested
    by_file = {s["file"]: s for s in summary["sources"]}
    for name, text in ODD_NAMES.items():
        assert by_file[name]["status"] == "ingested", name
        top = inlet.search(text, mode="text", limit=1, home=home).row(0, named=True)
        assert top["file"] == name
    result = CliRunner().invoke(inlet_cli(), ["sources", "--collection", "c"], env={"INLET_HOME": str(home)})
    assert result.exit_code == 0, result.output
    # one line per source (a newline in a name does not split it), each followed by an indented
    # line of its keywords
    lines = [line for line in result.output.splitlines() if not line.startswith(" ")]
    assert len(lines) == len(inlet.sources(home=home))
    assert not any(ch in result.output for ch in "\x07\x1b\u202e")
    assert any(line.endswith("minutes\\nfinal.txt") for line in lines)
    assert any(line.endswith("report\\u202etxt.exe") for line in lines)


def inlet_cli():  # noqa: ANN201
    from inlet.cli import main

    return main


def test_the_inbox_reports_links_out_of_it_and_never_follows_them(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(f"{SECRET}.\n")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "note.txt").write_text("The ferry leaves the harbour at noon.\n")
    (inbox / "leak.txt").symlink_to(secret)
    os.mkfifo(inbox / "pipe")
    done = inbox_flow(str(inbox), collection="box")
    assert done["ingested"][0] == str(inbox / "note.txt")
    texts = " ".join(Store(get_settings()).chunk_rows(collection="box")["text"].to_list())
    assert "ferry" in texts and "Quetzalcoatl" not in texts
    errors = {(r["file"], r["class"]) for r in inlet.errors().iter_rows(named=True)}
    assert errors == {("leak.txt", "link_outside"), ("pipe", "special_file")}


def test_an_explicit_link_is_followed_but_not_out_of_a_fence(tmp_path: Path) -> None:
    from flows.ingest import ingest_flow

    real = tmp_path / "kept" / "memo.txt"
    real.parent.mkdir()
    real.write_text("The orchard blossoms in the second week of April.\n")
    link = tmp_path / "inbox" / "memo.txt"
    link.parent.mkdir()
    link.symlink_to(real)
    fenced = ingest_flow([str(link)], collection="x", within=str(link.parent))
    assert fenced["sources"][0]["error"]["class"] == "link_outside"
    named = inlet.ingest([link], collection="x")  # a user who names a link means its file
    assert named["status"] == "completed" and named["sources"][0]["path"] == str(real)


def test_a_pdf_bomb_ends_as_out_of_memory_and_the_batch_goes_on(tmp_path: Path, shared: Path) -> None:
    hostile = bench_script("hostile")
    folder = tmp_path / "in"
    folder.mkdir()
    hostile._zlib_bomb(64 << 20)(folder / "bomb.pdf", hostile.Context(shared=shared, outside=tmp_path))
    shutil.copy(shared / "pdfs/pypdf/crazyones.pdf", folder / "crazyones.pdf")
    summary = inlet.ingest([folder], collection="b", extract_memory_mb=200)
    by_file = {s["file"]: s for s in summary["sources"]}
    assert by_file["crazyones.pdf"]["status"] == "ingested"
    error = by_file["bomb.pdf"]["error"]
    assert error["class"] == "out_of_memory" and "INLET_EXTRACT_MEMORY_MB" in error["hint"], error
    assert inlet.errors()["class"].to_list() == ["out_of_memory"]
    hits = inlet.search("the crazy ones, the misfits", limit=1)
    assert hits["file"].to_list() == ["crazyones.pdf"]
