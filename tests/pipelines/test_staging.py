"""Staged inputs after their jobs: which ones the maintenance deletes from ``<store>/inputs``,
and what a worker says of one that is gone (a real S3 server on loopback, moto, with the
fixtures of ``tests/conftest.py``; the jobs are real rows of the analytics in the bucket)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.config import Settings


def _staged(uri: str) -> list[str]:
    """The source ids under ``<uri>/inputs``."""
    from pyarrow import fs

    from pipelines import objstore

    remote = objstore.at(uri)
    selector = fs.FileSelector(remote.path("inputs"), allow_not_found=True)
    return sorted(i.base_name for i in remote.filesystem().get_file_info(selector))


def _job(
    settings: Settings, job_id: str, paths: list[str] | None, *statuses: tuple[str, dt.datetime]
) -> None:
    """The rows a job writes as it is submitted (with its paths) and runs: a status each."""
    from pipelines import analytics

    for i, (status, at) in enumerate(statuses):
        row = {"job_id": job_id, "collection": "c", "priority": "normal", "status": status, "at": at}
        if i == 0 and paths is not None:
            row["paths"] = json.dumps(paths)
        analytics.record(settings, "jobs", [row])


def test_maintenance_deletes_old_inputs_that_no_unfinished_job_names(store: str, tmp_path: Path) -> None:
    from pipelines import objstore, staging
    from pipelines.config import get_settings
    from pipelines.sources import discover, hash_file

    files = {}
    for name in ("done", "waiting", "recent", "unnamed"):
        files[name] = tmp_path / "alice" / f"{name}.txt"
        files[name].parent.mkdir(exist_ok=True)
        files[name].write_text(f"The {name} file: a note about tides and harbours.\n")
    settings = get_settings()
    staged = staging.stage(list(files.values()), settings, force=True)
    ref = dict(zip(files, staged.paths, strict=True))
    ids = {name: hash_file(path) for name, path in files.items()}
    assert _staged(store) == sorted(ids.values())

    # this week, as the jobs ran
    now = dt.datetime.now(dt.UTC)
    _job(settings, "j-done", [ref["done"]], ("queued", now), ("completed", now))
    _job(settings, "j-waiting", [ref["waiting"]], ("queued", now))
    _job(settings, "j-recent", [ref["recent"]], ("queued", now), ("failed", now))
    found, refused = discover([ref["done"]], settings=settings)  # this machine's copy
    assert refused == [] and found[0].read_bytes() == files["done"].read_bytes()
    assert found == [objstore.local_copy(ref["done"], settings)]  # where a job finds it again
    other = get_settings(home=tmp_path / "other-home")  # another worker keeps a copy too
    assert discover([ref["done"]], settings=other)[0]

    # today nothing goes: every input is younger than its retention (even at 0: the hour's grace)
    assert staging.expire(settings).report() == {"removed": 0, "bytes": 0, "kept": 4, "needed": 1}
    assert staging.expire(get_settings(inputs_retention_days=0)).removed == 0

    # ten days later: the recent file was named again two days ago (a retry), the waiting job still waits
    later = now + dt.timedelta(days=10)
    _job(settings, "j-retry", [ref["recent"]], ("queued", later - dt.timedelta(days=2)))
    _job(settings, "j-retry", None, ("completed", later - dt.timedelta(days=2) + dt.timedelta(seconds=1)))
    expired = staging.expire(settings, at=later)
    gone_bytes = files["done"].stat().st_size + files["unnamed"].stat().st_size
    assert expired.report() == {"removed": 2, "bytes": gone_bytes, "kept": 2, "needed": 1}
    assert _staged(store) == sorted([ids["waiting"], ids["recent"]])
    assert not (settings.cache_dir / "inputs" / ids["done"]).exists()  # this machine's copy went with it
    assert staging.expire(get_settings(inputs_retention_days=30), at=later).removed == 0

    # a worker asks the store before it uses its copy: a deleted input is gone everywhere
    found, refused = discover([ref["done"]], settings=other)
    assert found == [] and [e.code for e in refused] == ["not_found"]
    assert "submit the file again" in refused[0].hint and "INLET_INPUTS_RETENTION_DAYS" in refused[0].hint
    assert "done.txt" in refused[0].message
    assert not (other.cache_dir / "inputs" / ids["done"]).exists()

    # the waiting job's input is kept whatever its age, until the job ends
    _job(settings, "j-waiting", None, ("completed", later))
    assert staging.expire(settings, at=later + dt.timedelta(days=8)).report() == {
        "removed": 2, "bytes": files["waiting"].stat().st_size + files["recent"].stat().st_size,
        "kept": 0, "needed": 0,
    }  # fmt: skip
    assert _staged(store) == []

    # submitted again, a file is staged anew
    again = staging.stage([files["done"]], settings, force=True)
    assert (again.sent, again.paths) == (1, [ref["done"]])


def test_without_a_store_nothing_is_expired(tmp_path: Path) -> None:
    from pipelines import staging
    from pipelines.config import get_settings

    assert staging.expire(get_settings(home=tmp_path)).report() == {
        "removed": 0, "bytes": 0, "kept": 0, "needed": 0,
    }  # fmt: skip
