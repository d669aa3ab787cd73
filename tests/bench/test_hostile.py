"""The hostile-file campaign (bench/hostile.py) on its cheap kinds, through a real ingest: every
file ends with a verdict (ingested, or a classified error with its hint), the worker survives,
the good files of the same batch are searchable and nothing from outside the folder is."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import bench_script

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def _harness():  # noqa: ANN202
    return bench_script("hostile")


@pytest.fixture(scope="module")
def hostile():  # noqa: ANN201
    return _harness()


@pytest.fixture(scope="module")
def result(hostile, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN001, ANN201
    base = tmp_path_factory.mktemp("hostile")
    home = base / "home"
    try:
        yield hostile.campaign(base / "files", home, cheap=True, timeout_s=900)
    finally:
        worker = hostile.worker_of(home)
        if worker is not None:
            hostile.stop_worker(worker)


def test_the_generator_makes_at_least_forty_kinds(hostile, tmp_path: Path) -> None:  # noqa: ANN001
    assert len(hostile.KINDS) >= 40 and len({k.name for k in hostile.KINDS}) == len(hostile.KINDS)
    written = hostile.write(tmp_path / "files", cheap=True)
    assert len(written) >= 40
    assert sum(1 for p in (tmp_path / "files").iterdir()) == len(written)


def test_every_file_ends_with_a_classified_verdict(result) -> None:  # noqa: ANN001
    assert result.bad == []
    verdicts = {v.name: v for v in result.verdicts}
    assert "internal" not in {v.verdict for v in result.verdicts}
    for v in result.verdicts:
        if v.verdict not in ("ingested", "unchanged", "followed"):
            assert v.hint, v
    assert verdicts["link-to-etc-passwd"].verdict == "link_outside"
    assert verdicts["fifo.txt"].verdict == "special_file"
    assert verdicts["caf\udce9-latin1-byte.txt"].verdict == "ingested"
    assert verdicts["name with\nnewline.txt"].verdict == "ingested"


def test_the_worker_survives_and_the_good_files_are_searchable(result) -> None:  # noqa: ANN001
    assert result.worker_alive
    assert result.searchable and all(result.searchable.values()), result.searchable
    assert result.leaked == []
