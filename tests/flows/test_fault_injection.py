"""The ``random:RATE:SEED`` fault injection the fault campaign uses: seeded, at the rate asked,
only in tasks that are retried, and never on the attempt after the last retry."""

from __future__ import annotations

from flows.tasks import inject_fault
from pipelines.config import Settings, get_settings
from pipelines.errors import StoreUnavailable


def fails(settings: Settings, stage: str, attempt: int, key: str, retried: bool = True) -> bool:
    try:
        inject_fault(settings, stage, attempt, key=key, retried=retried)
    except StoreUnavailable as exc:
        assert exc.retryable and exc.stage == stage
        return True
    return False


def test_random_faults_strike_at_the_rate_and_spare_the_last_attempt() -> None:
    settings = get_settings(fault_injection="random:0.3:5", retries=3)
    keys = [f"source-{i}" for i in range(1000)]
    first = sum(fails(settings, "index", 1, key) for key in keys)
    assert 250 <= first <= 350  # 30 % of the first attempts
    assert not any(fails(settings, "index", 4, key) for key in keys)  # the attempt after 3 retries
    # every key gets through within its retries, whatever the draws
    assert all(any(not fails(settings, "index", a, key) for a in range(1, 5)) for key in keys)


def test_the_same_attempt_meets_the_same_fault_and_other_seeds_others() -> None:
    one = get_settings(fault_injection="random:0.5:1")
    other = get_settings(fault_injection="random:0.5:2")
    keys = [f"k{i}" for i in range(200)]
    drawn = [fails(one, "extract", 1, key) for key in keys]
    assert drawn == [fails(one, "extract", 1, key) for key in keys]
    assert drawn != [fails(other, "extract", 1, key) for key in keys]
    assert drawn != [fails(one, "index", 1, key) for key in keys]  # the stage is drawn on too


def test_a_task_that_is_not_retried_meets_no_random_fault() -> None:
    settings = get_settings(fault_injection="random:1.0:1")
    assert fails(settings, "extract", 1, "a")
    assert not fails(settings, "extract", 1, "a", retried=False)


def test_the_named_faults_stay_as_they_were() -> None:
    transient = get_settings(fault_injection="extract:transient:2")
    assert [fails(transient, "extract", a, "x") for a in (1, 2, 3)] == [True, True, False]
    assert not fails(transient, "index", 1, "x")
