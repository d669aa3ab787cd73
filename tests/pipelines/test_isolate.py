"""Parsing in a bounded child process: bombs end as classified errors, the parent goes on."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from pipelines.config import get_settings
from pipelines.errors import DamagedPdf, OutOfMemory, StageTimeout, UndecodableAudio
from pipelines.extract import extract
from pipelines.isolate import run_isolated, stream_isolated
from pipelines.sources import inspect
from tests.conftest import bench_script


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> Path:
    """A PDF whose one content stream inflates to 64 MB."""
    hostile = bench_script("hostile")
    path = tmp_path_factory.mktemp("bomb") / "bomb.pdf"
    hostile._zlib_bomb(64 << 20)(path, hostile.Context(shared=shared, outside=path.parent))
    return path


def test_a_bomb_past_the_memory_limit_is_out_of_memory_and_the_next_file_is_read(
    bomb: Path, shared: Path
) -> None:
    settings = get_settings(extract_memory_mb=200)
    with pytest.raises(OutOfMemory) as info:
        extract(inspect(bomb, settings), settings)
    assert "200 MB" in info.value.message and "INLET_EXTRACT_MEMORY_MB" in info.value.hint
    assert "MemoryError" in (info.value.detail or "")
    good = inspect(shared / "pdfs/pypdf/crazyones.pdf", settings)
    extraction = extract(good, settings)
    assert "crazy ones" in extraction.segments[0].text
    assert good.pages == 1 and extraction.source is good  # what the child learnt comes back


def test_each_parse_reports_its_own_peak_memory(bomb: Path, shared: Path) -> None:
    settings = get_settings(extract_memory_mb=1024)
    inflated = extract(inspect(bomb, settings), settings)  # 64 MB of content, held twice over
    small = extract(inspect(shared / "pdfs/pypdf/crazyones.pdf", settings), settings)
    assert inflated.peak_mb is not None and small.peak_mb is not None
    assert 64 < inflated.peak_mb < 1024
    assert 0 < small.peak_mb < inflated.peak_mb - 32  # the bomb's peak does not stay with the child


def test_a_parse_past_its_time_limit_is_stopped(bomb: Path) -> None:
    settings = get_settings(timeout_extract_s=1)
    started = time.monotonic()
    with pytest.raises(StageTimeout) as info:
        extract(inspect(bomb, settings), settings)
    assert time.monotonic() - started < 10
    assert "INLET_TIMEOUT_EXTRACT_S" in info.value.hint


def test_errors_of_the_parser_come_back_classified(tmp_path: Path, shared: Path) -> None:
    data = (shared / "pdfs/pdfminer/i1040nr.pdf").read_bytes()
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(data[: len(data) // 3])
    settings = get_settings()
    with pytest.raises(DamagedPdf) as info:
        extract(inspect(cut, settings), settings)
    assert info.value.path == str(cut) and info.value.hint and info.value.traceback


def _crash() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def test_a_child_that_crashes_is_the_kind_s_own_error() -> None:
    with pytest.raises(DamagedPdf, match=r"crashed on this file \(SIGSEGV\)"):
        run_isolated(_crash, memory_mb=256, what="PDF", crashed=DamagedPdf)


def test_a_child_serves_parse_after_parse_and_is_replaced_after_a_failure() -> None:
    first = run_isolated(os.getpid, memory_mb=256, what="PDF", crashed=DamagedPdf)
    assert run_isolated(os.getpid, memory_mb=256, what="PDF", crashed=DamagedPdf) == first != os.getpid()
    with pytest.raises(DamagedPdf):
        run_isolated(_crash, memory_mb=256, what="PDF", crashed=DamagedPdf)
    assert run_isolated(os.getpid, memory_mb=256, what="PDF", crashed=DamagedPdf) != first


def test_a_stuck_parse_ends_when_its_worker_is_killed() -> None:
    import subprocess

    import psutil

    code = (
        "import time\n"
        "from pipelines.errors import DamagedPdf\n"
        "from pipelines.isolate import run_isolated, stream_isolated\n"
        "run_isolated(time.sleep, 600, memory_mb=256, what='PDF', crashed=DamagedPdf)\n"
    )
    worker = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 60
        while len(children := psutil.Process(worker.pid).children(recursive=True)) < 3:
            assert time.monotonic() < deadline, "the child never started"
            time.sleep(0.2)
    finally:
        worker.kill()
        worker.wait()
    gone, alive = psutil.wait_procs(children, timeout=15)
    alive = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], [p.cmdline() for p in alive]


def _numbers(count: int, fail_at: int | None = None):  # noqa: ANN202 - a generator run in the child
    for i in range(count):
        if i == fail_at:
            raise ValueError("the stream broke")
        yield os.getpid(), i


def test_a_stream_is_made_item_by_item_in_the_child() -> None:
    items = list(stream_isolated(_numbers, 5, memory_mb=256, what="recording", crashed=UndecodableAudio))
    assert [i for _, i in items] == [0, 1, 2, 3, 4]
    assert {pid for pid, _ in items} != {os.getpid()} and len({pid for pid, _ in items}) == 1
    made = stream_isolated(_numbers, 10**9, memory_mb=256, what="recording", crashed=UndecodableAudio)
    assert [next(made)[1] for _ in range(3)] == [0, 1, 2]  # made on request, not all ahead
    made.close()  # stopped early: the child goes
    with pytest.raises(Exception, match="the stream broke") as broken:
        list(stream_isolated(_numbers, 5, 2, memory_mb=256, what="recording", crashed=UndecodableAudio))
    assert broken.value.code == "internal"  # classified in the child, raised here
    again = list(stream_isolated(_numbers, 2, memory_mb=256, what="recording", crashed=UndecodableAudio))
    assert [i for _, i in again] == [0, 1]


@pytest.mark.slow
def test_sound_past_the_memory_limit_is_out_of_memory_and_the_worker_goes_on(shared: Path) -> None:
    from pipelines.extract.audio import transcribe

    tight = get_settings(extract_memory_mb=64)
    with pytest.raises(OutOfMemory, match="Parsing the recording needed more than the 64 MB"):
        transcribe(inspect(shared / "audio/fw_jfk.flac", tight), tight)
    settings = get_settings()
    result = transcribe(inspect(shared / "audio/fw_jfk.flac", settings), settings)
    assert "ask not what your country" in " ".join(s.text for s in result.segments).lower()
