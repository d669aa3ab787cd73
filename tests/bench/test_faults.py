"""The fault campaign (bench/faults.py) on its quick faults, through real jobs and a real worker:
each fault shows the user a classified verdict with a hint, and after recovery the store equals
a clean run's (same chunk ids and texts per source, none lost, none duplicated)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import bench_script

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict:
    faults = bench_script("faults")
    found = faults.campaign(tmp_path_factory.mktemp("faults"), files=8, quick=True)
    return {o.fault: o for o in found}


def test_every_quick_fault_is_handled_and_nothing_is_lost_or_duplicated(outcomes: dict) -> None:
    assert set(outcomes) == {"transient", "permanent", "corrupt-cache", "model-missing"}
    for outcome in outcomes.values():
        assert outcome.problem == "", (outcome.fault, outcome)
        assert outcome.check == {"lost": 0, "duplicated": 0, "differing": 0, "extra": 0, "foreign_ids": 0}


def test_what_the_user_sees(outcomes: dict) -> None:
    transient = outcomes["transient"]
    assert transient.status == "completed" and transient.retries >= 2  # retried, then written
    permanent = outcomes["permanent"]
    assert permanent.status == "failed" and permanent.retries == 0 and set(permanent.verdicts) == {"internal"}
    assert outcomes["corrupt-cache"].status == "completed"
    missing = outcomes["model-missing"]
    assert missing.status == "failed" and missing.final == "completed"
    assert set(missing.verdicts) == {"model_missing", "dependency_unavailable"}
    assert "INLET_EMBED_MODEL" in missing.hint


def test_the_table_names_every_fault(outcomes: dict) -> None:
    faults = bench_script("faults")
    printed = faults.table(list(outcomes.values()))
    for name in outcomes:
        assert name in printed
    assert "not handled" not in printed and "NO " not in printed


def test_the_corpus_is_made_by_the_script(tmp_path: Path) -> None:
    faults = bench_script("faults")
    written = faults.write_corpus(tmp_path / "corpus", 5)
    assert len(written) == 5 + 4 and len({p.read_bytes() for p in written}) == len(written)
