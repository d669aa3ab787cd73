"""A full disk and a read-only store on real file systems (a tiny tmpfs), and a damaged cache entry.

Mounting needs root (or CAP_SYS_ADMIN); where it is not permitted those tests are skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines import analytics, breaker, cache
from pipelines.config import get_settings
from pipelines.errors import DiskFull, StoreUnavailable, classify
from pipelines.records import Extraction, Segment, Source
from pipelines.store import Store, VectorCache


@pytest.fixture(autouse=True)
def _fresh_breakers() -> None:
    breaker.reset()


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs mounted at a fresh folder (skipped when mounting is not permitted)."""
    where = tmp_path / "tiny"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path) -> Path:
    """Write a file until the file system is full; returns it (delete it to free the space)."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == 28
    return filler


def _extraction(folder: Path, n: int = 3) -> Extraction:
    text = "\n\n".join(f"Paragraph {i} about tides, moons and the sea." for i in range(n))
    path = folder / "tides.txt"
    path.write_text(text)
    source = Source(path=str(path), source_id="cd" * 32, kind="text", size=len(text), file=path.name)
    return Extraction(source=source, segments=[Segment(text=text)])


def test_a_full_disk_under_the_analytics_is_disk_full_and_leaves_no_partial_file(tiny_fs: Path) -> None:
    settings = get_settings(home=tiny_fs / "home")
    analytics.record(settings, "events", [{"job_id": "j1", "stage": "extract", "event": "end"}])
    fill(tiny_fs)
    rows = [{"job_id": "j1", "stage": "extract", "event": "end", "message": "x" * 200} for _ in range(20000)]
    with pytest.raises(Exception) as info:  # polars' ComputeError, naming "os error 28"
        analytics.record(settings, "events", rows)
    error = classify(info.value, stage="index")
    assert isinstance(error, DiskFull) and error.code == "disk_full" and not error.retryable
    assert "Free disk space under INLET_HOME" in error.hint
    leftovers = [
        p.name for p in settings.analytics_dir.rglob("*") if p.is_file() and not p.name.endswith(".parquet")
    ]
    assert leftovers == []
    assert (
        analytics.query(settings, "SELECT count(*) AS n FROM events")["n"][0] == 1
    )  # the first write is whole


def test_a_full_disk_under_the_cache_is_disk_full_and_leaves_no_partial_entry(tiny_fs: Path) -> None:
    settings = get_settings(home=tiny_fs / "home")
    extraction = _extraction(tiny_fs)
    extraction.segments = [Segment(text="word " * 200_000)]  # about 1 MB of JSON
    fill(tiny_fs)
    with pytest.raises(OSError) as info:
        cache.save(extraction, settings)
    assert classify(info.value).code == "disk_full"
    assert [p for p in settings.cache_dir.rglob("*") if p.is_file()] == []
    assert cache.load(extraction.source, settings) is None


def test_a_read_only_store_is_store_unavailable(tiny_fs: Path) -> None:
    settings = get_settings(home=tiny_fs / "home")
    store = Store(settings)  # made while writable
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    with pytest.raises(Exception) as info:
        VectorCache(store, 384)  # its table is created at the first write
    error = classify(info.value, stage="write")
    assert isinstance(error, StoreUnavailable) and error.retryable
    assert "read-only" in error.message.lower() and "INLET_HOME" in error.hint


def test_a_damaged_cache_entry_is_made_again(tmp_path: Path) -> None:
    settings = get_settings(home=tmp_path / "home")
    extraction = _extraction(tmp_path)
    cache.save(extraction, settings)
    entry = next(settings.cache_dir.rglob("*.json"))
    for damage in (b"\xff\xfe not json", b'{"source": {"path": 1}}', b"[1, 2", json.dumps([]).encode()):
        entry.write_bytes(damage)
        assert cache.load(extraction.source, settings) is None, damage
    cache.save(extraction, settings)
    assert cache.load(extraction.source, settings) is not None


@pytest.mark.slow
def test_indexing_on_a_full_disk_is_disk_full_then_resumes_whole_when_space_is_back(tiny_fs: Path) -> None:
    from pipelines.index import index_sources

    settings = get_settings(home=tiny_fs / "home")
    Store(settings)
    filler = fill(tiny_fs)
    with pytest.raises(Exception) as info:
        index_sources([_extraction(tiny_fs.parent)], collection="c", settings=settings)
    error = classify(info.value, stage="index")
    assert error.code == "disk_full" and error.hint and not error.retryable

    os.unlink(filler)  # space is back: the same batch is written once, whole
    result = index_sources([_extraction(tiny_fs.parent)], collection="c", settings=settings)
    assert result.sources[0].error is None and result.chunks_written >= 1
    chunks = Store(settings).chunk_rows(collection="c")
    assert chunks.height == result.chunks_written == chunks["chunk_id"].n_unique()


@pytest.mark.slow
def test_a_store_made_read_only_opens_its_breaker_after_the_threshold(tiny_fs: Path) -> None:
    from pipelines.errors import DependencyUnavailable
    from pipelines.index import index_sources

    settings = get_settings(home=tiny_fs / "home", breaker_threshold=2)
    assert index_sources([_extraction(tiny_fs.parent)], collection="c", settings=settings).chunks_written
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    for n in range(2):  # opening the store still works; writing it fails, and is counted
        with pytest.raises(Exception) as info:
            index_sources([_extraction(tiny_fs.parent, n=5 + n)], collection="c", settings=settings)
        assert classify(info.value, stage="index").code == "store_unavailable"
    with pytest.raises(DependencyUnavailable, match="The store failed 2 times in a row"):
        index_sources([_extraction(tiny_fs.parent, n=9)], collection="c", settings=settings)
