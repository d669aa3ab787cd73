"""Submitting helpers that need no Prefect run."""

from __future__ import annotations

from pathlib import Path


def test_the_worker_log_is_rotated_when_large(tmp_path: Path) -> None:
    from flows.local_worker import rotate_log

    log = tmp_path / "worker.log"
    rotate_log(log, max_bytes=10)  # no log yet: nothing to do
    for round_ in range(5):
        log.write_text(f"round {round_}\n" * 5)
        rotate_log(log, max_bytes=10, keep=3)
        assert not log.exists()
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == ["worker.log.1", "worker.log.2", "worker.log.3"]
    assert (tmp_path / "worker.log.1").read_text().startswith("round 4")
    assert (tmp_path / "worker.log.3").read_text().startswith("round 2")
    log.write_text("small\n")
    rotate_log(log, max_bytes=10)
    assert log.read_text() == "small\n"
