"""Circuit breakers on real failures: a store path that is a file, a model that does not exist."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipelines import breaker
from pipelines.config import get_settings
from pipelines.errors import DependencyUnavailable, ModelMissing, StoreUnavailable
from pipelines.index import index_sources
from pipelines.records import Extraction, Segment, Source
from pipelines.store import Store


@pytest.fixture(autouse=True)
def _fresh_breakers() -> None:
    breaker.reset()


def _extraction(tmp_path: Path, text: str = "The tide comes in twice a day.") -> Extraction:
    path = tmp_path / "tide.txt"
    path.write_text(text)
    source = Source(path=str(path), source_id="ab" * 32, kind="text", size=len(text), file=path.name)
    return Extraction(source=source, segments=[Segment(text=text)])


def test_a_store_that_keeps_failing_opens_its_breaker_then_a_probe_closes_it(tmp_path: Path) -> None:
    settings = get_settings(home=tmp_path / "home", breaker_threshold=2, breaker_cooldown_s=1.0)
    settings.home.mkdir()
    settings.lancedb_dir.write_text("not a folder")  # the store cannot be opened
    for _ in range(2):
        with pytest.raises(StoreUnavailable):
            index_sources([_extraction(tmp_path)], collection="c", settings=settings)
    started = time.monotonic()
    with pytest.raises(DependencyUnavailable) as info:
        index_sources([_extraction(tmp_path)], collection="c", settings=settings)
    assert time.monotonic() - started < 0.5  # refused without trying
    error = info.value
    assert error.code == "dependency_unavailable" and not error.retryable
    assert "The store failed 2 times in a row" in error.message and "store_unavailable" in error.message
    assert "INLET_HOME" in error.hint and "INLET_BREAKER_COOLDOWN_S" in error.hint
    shown = {b["dependency"]: b for b in breaker.states(settings)}  # as another process reads it
    assert shown["store"]["state"] == "open" and shown["store"]["error_class"] == "store_unavailable"
    assert shown["embedder"]["state"] == "closed"

    time.sleep(1.1)
    assert {b["dependency"]: b for b in breaker.states(settings)}["store"]["state"] == "half_open"
    with pytest.raises(StoreUnavailable):  # the probe really tries, and fails: open again
        index_sources([_extraction(tmp_path)], collection="c", settings=settings)
    with pytest.raises(DependencyUnavailable):
        index_sources([_extraction(tmp_path)], collection="c", settings=settings)

    settings.lancedb_dir.unlink()  # the cause is fixed
    time.sleep(1.1)
    store = breaker.breaker(settings, "store")
    with store.guard():  # the probe succeeds
        Store(settings)
    assert store.state == "closed" and store.failures == 0
    assert {b["dependency"]: b for b in breaker.states(settings)}["store"]["state"] == "closed"


def test_other_errors_do_not_count_and_a_cancelled_call_counts_as_nothing(tmp_path: Path) -> None:
    settings = get_settings(home=tmp_path / "home", breaker_threshold=2)
    store = breaker.breaker(settings, "store")
    with pytest.raises(StoreUnavailable), store.guard():
        raise StoreUnavailable("the disk went away")
    assert store.failures == 1
    with pytest.raises(ValueError), store.guard():  # the store answered: a bad value of ours
        raise ValueError("one vector per chunk is required")
    assert store.failures == 0 and store.state == "closed"
    with pytest.raises(KeyboardInterrupt), store.guard():
        raise KeyboardInterrupt
    assert store.failures == 0


@pytest.mark.slow
def test_a_missing_model_fails_fast_after_the_threshold_and_recovers_after_a_probe(tmp_path: Path) -> None:
    home = tmp_path / "home"
    missing = get_settings(home=home, embed_model=str(tmp_path / "no-such-model"), breaker_threshold=2,
                           breaker_cooldown_s=1.0)  # fmt: skip
    for _ in range(2):
        with pytest.raises(ModelMissing):
            index_sources([_extraction(tmp_path)], collection="c", settings=missing)
    with pytest.raises(DependencyUnavailable, match="The embedding model failed 2 times in a row"):
        index_sources([_extraction(tmp_path)], collection="c", settings=missing)

    time.sleep(1.1)  # the model is configured again; the probe loads it and the breaker closes
    fixed = get_settings(home=home, breaker_threshold=2, breaker_cooldown_s=1.0)
    result = index_sources([_extraction(tmp_path)], collection="c", settings=fixed)
    assert result.chunks_written == 1 and result.sources[0].error is None
    assert breaker.breaker(fixed, "embedder").state == "closed"
    assert Store(fixed).count_chunks("c") == 1


def test_a_missing_transcription_model_opens_its_own_breaker(tmp_path: Path) -> None:
    from pipelines.extract.audio import whisper_for

    settings = get_settings(
        home=tmp_path / "home", whisper_model=str(tmp_path / "no-whisper"), breaker_threshold=2
    )
    for _ in range(2):
        with pytest.raises(ModelMissing):
            whisper_for(settings)
    with pytest.raises(
        DependencyUnavailable, match="The transcription model failed 2 times in a row"
    ) as info:
        whisper_for(settings)
    assert "INLET_WHISPER_MODEL" in info.value.hint  # what to fix: the model's own hint
    shown = {b["dependency"]: b["state"] for b in breaker.states(settings)}
    assert shown == {"embedder": "closed", "transcriber": "open", "store": "closed"}
