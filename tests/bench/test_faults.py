"""The fault campaign (bench/faults.py) on its quick faults, through real jobs and a real worker:
each fault shows the user a classified verdict with a hint, and after recovery the store equals
a clean run's (same chunk ids and texts per source, none lost, none duplicated). Then the
campaign at scale, shortened: random transient faults, random kills of the worker, concurrent
writers with a polling reader."""

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


@pytest.fixture(scope="module")
def at_scale(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The campaign at scale, shortened: 20 notes and the samples at 30 % random faults, two
    random kills of the worker during one job, four writers for 25 s."""
    faults = bench_script("faults")
    found = faults.at_scale(
        tmp_path_factory.mktemp("scale"), files=20, rate=0.3, kills=2, writers=4, minutes=25 / 60
    )
    return {f.part.split()[-1]: f for f in found}


def test_random_transient_faults_are_retried_within_the_limit_and_every_file_ends_ingested(
    at_scale: dict,
) -> None:
    faults = bench_script("faults")
    figures = at_scale["faults"]
    assert figures.problems == [], figures
    assert figures.detail["statuses"] == {"ingested": figures.files}  # every file, once, ingested
    assert set(figures.detail["faults_by_stage"]) == {"extract", "transcribe", "index"}
    assert 0 < figures.max_retries <= faults.RETRIES and figures.retries >= figures.faults
    assert set(figures.errors) == {"retry: store_unavailable"}  # retried, never a final failure
    assert figures.check == {"lost": 0, "duplicated": 0, "differing": 0, "extra": 0, "foreign_ids": 0}


def test_random_kills_of_the_worker_leave_the_store_of_a_clean_run(at_scale: dict) -> None:
    figures = at_scale["kills"]
    assert figures.problems == [], figures
    assert figures.kills == 2 and figures.detail["runs"] >= 3  # each kill followed by a resumed run
    assert set(figures.detail["statuses"]) <= {"ingested", "unchanged"}
    assert sum(figures.detail["statuses"].values()) == figures.files  # every file shown once
    assert figures.check == {"lost": 0, "duplicated": 0, "differing": 0, "extra": 0, "foreign_ids": 0}


def test_concurrent_writers_and_a_polling_dashboard_lose_nothing(at_scale: dict) -> None:
    figures = at_scale["writers"]
    assert figures.problems == [], figures
    assert figures.check == {"lock_errors": 0, "events_lost": 0, "job_rows_lost": 0, "duplicated": 0,
                             "foreign_ids": 0}  # fmt: skip
    # every writer wrote while the poller read (one round of its reads takes seconds when loaded)
    assert figures.detail["rounds"] >= 4 and figures.detail["events_written"] > 0
    assert figures.detail["polls"] >= 5
    assert figures.errors == {}
