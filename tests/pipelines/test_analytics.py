"""Analytics store: writes, versioned reads, migration from the first schema, compaction,
retention, progress from events, statistics over rows whose figures are known."""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics as pystats
from pathlib import Path

import polars as pl
import pytest

from pipelines import analytics, progress
from pipelines.analytics.schema import V1
from pipelines.config import Settings, get_settings


@pytest.fixture
def settings(inlet_home: Path) -> Settings:
    return get_settings(home=inlet_home)


def _write_v1(settings: Settings, table: str, rows: list[dict], at: dt.datetime) -> Path:
    """Write rows exactly as the first release did: V1 columns, no version key, day folders."""
    schema = V1[table]
    frame = pl.DataFrame([{**dict.fromkeys(schema), "at": at, **r} for r in rows], schema=schema)
    folder = settings.analytics_dir / table / at.strftime("%Y-%m-%d")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{at.strftime('%H%M%S%f')}-1234-{random.getrandbits(32):08x}.parquet"
    frame.write_parquet(path)
    return path


def test_rows_written_are_read_back_with_their_values(settings: Settings) -> None:
    analytics.record(settings, "events", [
        {"job_id": "j", "source_id": "s", "kind": "pdf", "stage": "extract", "event": "end", "pages": 7},
    ])  # fmt: skip
    frame = analytics.query(settings, "SELECT job_id, stage, pages, error_class FROM events")
    assert frame.to_dicts() == [{"job_id": "j", "stage": "extract", "pages": 7, "error_class": None}]
    with pytest.raises(ValueError, match="unknown events columns: \\['nope'\\]"):
        analytics.record(settings, "events", [{"nope": 1}])


def test_an_empty_home_reads_as_empty_tables(settings: Settings) -> None:
    assert analytics.jobs(settings).height == 0
    assert analytics.errors(settings).height == 0
    stats = analytics.statistics(settings)
    assert stats["stages"].height == 0 and stats["retries"]["retries"] == 0
    assert stats["searches"].filter(pl.col("mode") == "all")["queries"].to_list() == [0]


def test_files_of_the_first_schema_are_read_then_migrated_keeping_every_row(settings: Settings) -> None:
    day = dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC)
    _write_v1(settings, "jobs", [{"job_id": "old", "collection": "c", "priority": "normal", "status": "running",
                                   "submitted_at": day, "started_at": day, "paths": '["/a"]'}], day)  # fmt: skip
    _write_v1(settings, "jobs", [{"job_id": "old", "collection": "c", "status": "partially_failed",
                                   "finished_at": day, "n_sources": 2, "n_failed": 1}], day)  # fmt: skip
    _write_v1(settings, "events", [{"job_id": "old", "collection": "c", "source_id": "s1", "file": "a.pdf",
                                     "kind": "pdf", "stage": "extract", "event": "end", "attempt": 1,
                                     "duration_s": 2.0, "pages": 4}], day)  # fmt: skip
    tb = "Traceback (most recent call last):\n  ...\nKeyError: 'x'"
    _write_v1(settings, "errors", [{"job_id": "old", "collection": "c", "file": "b.pdf", "path": "/a/b.pdf",
                                     "stage": "extract", "class": "internal", "message": "Unexpected error",
                                     "hint": "report it", "retryable": False, "attempt": 1, "detail": tb}], day)  # fmt: skip
    assert analytics.versions(settings)["events"] == {1: 1}

    def snapshot() -> dict:
        return {
            "job": analytics.jobs(settings).drop("last_event_at", "eta_s").to_dicts(),
            "events": analytics.query(settings, "SELECT * FROM events").to_dicts(),
            "errors": analytics.query(settings, "SELECT * FROM errors").to_dicts(),
            "sources": analytics.job_sources(settings, "old").to_dicts(),
        }

    before = snapshot()
    # Old files read as the current schema: new columns null, the traceback found in ``detail``.
    assert before["errors"][0]["traceback"] == tb and before["errors"][0]["kind"] is None
    assert before["events"][0]["error_class"] is None and before["events"][0]["pages"] == 4
    job = before["job"][0]
    assert (job["status"], job["sources"], job["failed"], job["progress"]) == ("partially_failed", 2, 1, 1.0)

    report = analytics.compact(settings)  # rewrites older files in the current schema
    assert report["jobs"]["files_after"] == 1
    current = analytics.SCHEMA_VERSION
    assert analytics.versions(settings) == {
        "jobs": {current: 1},
        "events": {current: 1},
        "errors": {current: 1},
        "searches": {},
    }
    assert snapshot() == before
    # The migrated file now holds the traceback in its own column.
    files = analytics.live_files(settings, "errors")
    assert pl.read_parquet(files[0])["traceback"].to_list() == [tb]


def test_compaction_folds_small_files_and_readers_see_each_row_once(settings: Settings) -> None:
    for i in range(30):
        analytics.record(settings, "events", [
            {"job_id": f"j{i % 3}", "source_id": f"s{i}", "stage": "extract", "event": "end", "duration_s": i},
        ])  # fmt: skip
    assert len(analytics.live_files(settings, "events")) == 30
    total = analytics.query(settings, "SELECT count(*) AS n, sum(duration_s) AS s FROM events").row(0)
    report = analytics.compact(settings)
    assert report["events"] == {"files_before": 30, "files_after": 1, "rows": 30}
    assert analytics.query(settings, "SELECT count(*) AS n, sum(duration_s) AS s FROM events").row(0) == total
    folder = analytics.live_files(settings, "events")[0].parent
    assert sorted(p.name for p in folder.iterdir()) == [analytics.live_files(settings, "events")[0].name]
    # A second compaction while one holds the lock does nothing.
    from pipelines.analytics.files import maintenance_lock

    with maintenance_lock(settings) as held:
        assert held and "skipped" in analytics.compact(settings)


def test_the_change_mark_moves_with_every_file_written_and_only_then(settings: Settings) -> None:
    # what a process following a job looks at before it queries the jobs table again
    assert analytics.change_mark(settings, "jobs") == ()
    marks = []
    for i in range(3):  # back to back, within one clock tick
        analytics.record(settings, "jobs", [{"job_id": f"j{i}", "status": "running"}])
        marks.append(analytics.change_mark(settings, "jobs"))
    assert len(set(marks)) == 3
    assert analytics.change_mark(settings, "jobs") == marks[-1]  # nothing written: no change
    analytics.record(settings, "events", [{"job_id": "j0", "stage": "extract", "event": "end"}])
    assert analytics.change_mark(settings, "jobs") == marks[-1]  # another table's file
    analytics.compact(settings)
    assert analytics.change_mark(settings, "jobs") != marks[-1]


def test_a_crash_between_publish_and_delete_is_read_right_and_swept(settings: Settings) -> None:
    paths = [
        analytics.record(settings, "errors", [{"job_id": "j", "class": "empty", "message": str(i)}])
        for i in range(3)
    ]
    frame = analytics.query(settings, "SELECT * FROM errors")
    folder = paths[0].parent
    # What compaction leaves if the process dies right after publishing the replacement.
    (folder / "c-000000000000-1-deadbeef.parquet.replaces").write_text(json.dumps([p.name for p in paths]))
    frame.write_parquet(folder / "c-000000000000-1-deadbeef.parquet", metadata={"inlet_schema_version": "2"})
    assert analytics.query(settings, "SELECT count(*) FROM errors").item() == 3
    analytics.compact(settings)
    assert not any(p.exists() for p in paths)
    assert analytics.query(settings, "SELECT count(*) FROM errors").item() == 3


def test_retention_removes_only_old_rows_and_reports_counts(settings: Settings) -> None:
    now = analytics.now()
    old, recent = now - dt.timedelta(days=10), now - dt.timedelta(days=2)
    analytics.record(settings, "events", [{"job_id": "a", "event": "end", "at": old} for _ in range(4)])
    analytics.record(
        settings, "events", [{"job_id": "b", "event": "end", "at": t} for t in (old, recent, now)]
    )
    analytics.record(settings, "errors", [{"job_id": "a", "class": "empty", "at": t} for t in (old, recent)])
    analytics.record(
        settings, "errors", [{"job_id": "a", "class": "damaged_pdf", "at": now - dt.timedelta(days=40)}]
    )
    analytics.record(settings, "searches", [{"query": "q", "results": 1, "at": now}])
    removed = analytics.apply_retention(settings)
    assert removed == {"events": 5, "errors": 1, "searches": 0}
    left = analytics.query(settings, 'SELECT job_id, "at" FROM events ORDER BY "at"')
    assert left["job_id"].to_list() == ["b", "b"] and left["at"].min() >= recent
    assert analytics.errors(settings)["class"].to_list() == ["empty", "empty"]
    assert analytics.apply_retention(settings) == {"events": 0, "errors": 0, "searches": 0}
    shorter = settings.model_copy(update={"errors_retention_days": 1})
    assert analytics.apply_retention(shorter)["errors"] == 2


def test_progress_in_sql_follows_the_python_rules(settings: Settings) -> None:
    rng = random.Random(7)
    expected: dict[str, float] = {}
    rows = []
    for i in range(200):
        kind = rng.choice(["pdf", "text", "audio", "video", None, "weird"])
        stages = rng.sample(progress.STAGES, rng.randint(0, 6))
        events = [
            (st, rng.choice(["start", "end", "end", "retry", "fail", "skip", "cancel"])) for st in stages
        ]
        if rng.random() < 0.5:
            events = [(st, ev) for st, ev in events if ev not in progress.TERMINAL_EVENTS]
        if not events:
            continue
        expected[f"s{i}"] = progress.source_progress(kind, events)
        rows += [
            {"job_id": "j", "source_id": f"s{i}", "kind": kind, "stage": st, "event": ev} for st, ev in events
        ]
    analytics.record(settings, "events", rows)
    got = analytics.query(settings, "SELECT source_id, progress FROM source_state")
    assert dict(got.iter_rows()) == pytest.approx(expected)


def test_jobs_give_progress_eta_and_stuck_from_events(settings: Settings) -> None:
    t0 = analytics.now() - dt.timedelta(seconds=100)
    analytics.record(settings, "jobs", [
        {"job_id": "run", "collection": "c", "priority": "high", "status": "queued", "submitted_at": t0, "at": t0},
        {"job_id": "run", "status": "running", "started_at": t0, "n_sources": 4, "at": t0},
        {"job_id": "wait", "collection": "c", "priority": "low", "status": "queued", "submitted_at": t0, "at": t0},
        {"job_id": "idle", "collection": "c", "priority": "normal", "status": "running",
         "submitted_at": t0 - dt.timedelta(hours=2), "started_at": t0 - dt.timedelta(hours=2),
         "at": t0 - dt.timedelta(hours=2)},
        {"job_id": "stop", "collection": "c", "priority": "normal", "status": "queued", "submitted_at": t0, "at": t0},
        {"job_id": "stop", "status": "cancelled", "finished_at": t0, "at": t0 + dt.timedelta(seconds=1)},
    ])  # fmt: skip
    analytics.record(settings, "events", [
        {"job_id": "run", "source_id": "a", "kind": "text", "stage": "index", "event": "end"},
        {"job_id": "run", "source_id": "b", "kind": "audio", "stage": "transcribe", "event": "end"},
        {"job_id": "run", "source_id": "c", "kind": "pdf", "stage": "extract", "event": "fail"},
    ])  # fmt: skip
    frame = analytics.jobs(settings, at=t0 + dt.timedelta(seconds=100))
    by_id = {r["job_id"]: r for r in frame.to_dicts()}
    want = progress.job_progress([1.0, progress.weight("audio", "transcribe"), 1.0], 4)
    assert by_id["run"]["progress"] == pytest.approx(want, abs=1e-4)
    assert by_id["run"]["eta_s"] == progress.eta_seconds(100.0, round(want, 4))
    assert (by_id["run"]["sources"], by_id["run"]["failed"], by_id["run"]["priority"]) == (4, 1, "high")
    assert (by_id["wait"]["status"], by_id["wait"]["progress"], by_id["wait"]["eta_s"]) == (
        "queued",
        0.0,
        None,
    )
    assert by_id["idle"]["stuck"] and not by_id["run"]["stuck"]
    # a job that ended (here cancelled half way) is finished, at 100 %, with nothing left
    stop = by_id["stop"]
    assert (stop["status"], stop["finished"], stop["progress"], stop["eta_s"]) == (
        "cancelled",
        True,
        1.0,
        0.0,
    )
    assert not any(by_id[j]["finished"] for j in ("run", "wait", "idle"))
    stats = analytics.statistics(settings, at=t0 + dt.timedelta(seconds=100))
    assert stats["queue"].to_dicts() == [{"priority": "low", "queued": 1}]
    assert stats["health"]["stuck"] == 1 and stats["health"]["stuck_jobs"]["job_id"].to_list() == ["idle"]
    files = analytics.job_sources(settings, "run")
    assert dict(zip(files["source_id"], files["status"], strict=True)) == {
        "a": "ingested", "b": "running", "c": "failed"}  # fmt: skip


def test_a_requeued_job_counts_its_requeues_and_a_sign_of_life_keeps_it_from_being_stuck(
    settings: Settings,
) -> None:
    """The rows the worker's stuck-job watchdog writes: a requeue (``queued`` with a count) and a
    sign of life (no status) of a long stage that writes no event."""
    t0 = analytics.now() - dt.timedelta(hours=1)
    minute = dt.timedelta(minutes=1)
    analytics.record(settings, "jobs", [
        {"job_id": "long", "collection": "c", "priority": "normal", "status": "queued", "submitted_at": t0, "at": t0},
        {"job_id": "long", "status": "running", "started_at": t0, "at": t0 + minute},
        {"job_id": "long", "status": "queued", "requeues": 1, "at": t0 + 2 * minute},
        {"job_id": "long", "status": "running", "at": t0 + 3 * minute},
        {"job_id": "long", "at": t0 + 50 * minute},
    ])  # fmt: skip
    at = t0 + 60 * minute
    row = analytics.jobs(settings, at=at).row(0, named=True)
    assert (row["status"], row["requeues"], row["last_event_at"]) == ("running", 1, t0 + 50 * minute)
    assert not row["stuck"]  # 10 minutes quiet, under the default 15
    assert analytics.jobs(settings, at=at + 10 * minute)["stuck"].to_list() == [True]
    assert analytics.jobs(get_settings(home=settings.home, stuck_job_after_s=300), at=at)["stuck"][0]


def test_statistics_match_figures_computed_by_hand(settings: Settings) -> None:
    rng = random.Random(3)
    durations = {
        "extract": [rng.uniform(0.1, 5) for _ in range(41)],
        "embed": [rng.uniform(0.5, 2) for _ in range(17)],
    }
    pages = [rng.randint(1, 30) for _ in durations["extract"]]
    rows = [
        {"job_id": "j", "collection": "c", "source_id": f"s{i}", "kind": "pdf", "stage": "extract",
         "event": "end", "duration_s": d, "pages": p}
        for i, (d, p) in enumerate(zip(durations["extract"], pages, strict=True))
    ] + [
        {"job_id": "j", "collection": "c", "source_id": f"s{i}", "kind": "pdf", "stage": "embed",
         "event": "end", "duration_s": d, "chunks": 10}
        for i, d in enumerate(durations["embed"])
    ]  # fmt: skip
    # Three retried stages: two then ended, one failed for good.
    rows += [
        {"job_id": "j", "collection": "c", "source_id": "s0", "kind": "pdf", "stage": "index", "event": "retry"},
        {"job_id": "j", "collection": "c", "source_id": "s0", "kind": "pdf", "stage": "index", "event": "retry"},
        {"job_id": "j", "collection": "c", "source_id": "s0", "kind": "pdf", "stage": "index", "event": "end"},
        {"job_id": "j", "collection": "c", "source_id": "s1", "kind": "pdf", "stage": "index", "event": "retry"},
        {"job_id": "j", "collection": "c", "source_id": "s1", "kind": "pdf", "stage": "index", "event": "end"},
        {"job_id": "j", "collection": "c", "source_id": "s2", "kind": "pdf", "stage": "index", "event": "retry"},
        {"job_id": "j", "collection": "c", "source_id": "s2", "kind": "pdf", "stage": "index", "event": "fail"},
    ]  # fmt: skip
    analytics.record(settings, "events", rows)
    analytics.record(settings, "searches", [
        {"query": f"q{i}", "mode": "text" if i % 2 else "vector", "results": i % 5, "latency_ms": float(i)}
        for i in range(20)
    ])  # fmt: skip
    stats = analytics.statistics(settings)
    stage = {r["stage"]: r for r in stats["stages"].to_dicts()}
    ext = durations["extract"]
    assert stage["extract"]["ended"] == 41
    assert stage["extract"]["mean_s"] == pytest.approx(pystats.mean(ext))
    assert stage["extract"]["p50_s"] == pytest.approx(pystats.median(ext))
    assert stage["extract"]["p95_s"] == pytest.approx(pystats.quantiles(ext, n=20, method="inclusive")[18])
    assert stage["extract"]["max_s"] == pytest.approx(max(ext))
    assert stage["extract"]["pages_per_s"] == pytest.approx(sum(pages) / sum(ext))
    assert stage["embed"]["chunks_per_s"] == pytest.approx(10 * 17 / sum(durations["embed"]))
    assert (stage["index"]["ended"], stage["index"]["failed"]) == (2, 1)
    assert stats["retries"] == {"retries": 4, "retried": 3, "recovered": 2, "success_rate": round(2 / 3, 4)}
    kind = stats["by_kind"].row(0, named=True)
    assert (kind["kind"], kind["sources"], kind["succeeded"], kind["failed"]) == ("pdf", 41, 2, 1)
    modes = {r["mode"]: r for r in stats["searches"].to_dicts()}
    assert modes["all"]["queries"] == 20 and modes["all"]["no_results"] == 4
    assert modes["text"]["queries"] == 10 and modes["all"]["p50_ms"] == pytest.approx(9.5)


@pytest.mark.parametrize(("span_s", "width"), [(0, 10), (300, 10), (1800, 60), (4 * 3600, 300), (40 * 3600, 3600),
                                               (10 * 86400, 21600), (40 * 86400, 86400)])  # fmt: skip
def test_throughput_counts_finished_files_in_buckets_that_follow_the_span(
    settings: Settings, span_s: int, width: int
) -> None:
    """Files finished per bucket and kind; the bucket width gives about 60 bars at most."""
    t0 = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)
    ends = [t0, t0 + dt.timedelta(seconds=1), t0 + dt.timedelta(seconds=span_s)]
    rows = [
        {
            "job_id": "j",
            "collection": "c",
            "source_id": f"s{i}",
            "kind": kind,
            "stage": "index",
            "event": "end",
            "at": at,
        }
        for i, (kind, at) in enumerate(zip(["pdf", "pdf", "audio"], ends, strict=True))
    ]
    rows.append({"job_id": "j", "collection": "c", "source_id": "busy", "kind": "pdf", "stage": "extract",
                 "event": "start", "at": t0})  # still running: not counted  # fmt: skip
    analytics.record(settings, "events", rows)
    frame = analytics.statistics(settings)["throughput"]
    assert set(frame["bucket_s"]) == {width}
    assert frame["files"].sum() == 3 and frame.filter(pl.col("kind") == "audio")["files"].to_list() == [1]
    assert frame["bucket"].to_list() == sorted(frame["bucket"].to_list())
    assert span_s / width <= 60
