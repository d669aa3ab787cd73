"""The stores on S3-compatible object storage (``INLET_STORE``), against a real S3 server on
loopback (moto in server mode): LanceDB tables, analytics files written by several processes
at once, and inputs staged once by content."""

from __future__ import annotations

import json
import multiprocessing as mp
import multiprocessing.synchronize
import os
import shutil
import time
import traceback
from pathlib import Path

import pytest

from tests.s3_server import object_keys


def _local_files(home: Path) -> list[str]:
    return sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file()) if home.exists() else []


# --- settings ----------------------------------------------------------------------------
def test_store_setting_is_checked_and_unset_keeps_the_home_layout(tmp_path: Path) -> None:
    from pipelines import objstore
    from pipelines.config import get_settings
    from pipelines.store import location

    plain = get_settings(home=tmp_path)
    assert plain.store is None and objstore.remote(plain) is None
    assert location(plain) == (str(tmp_path / "lancedb"), {})
    assert get_settings(home=tmp_path, store="  ").store is None
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        get_settings(store="/srv/shared")
    with pytest.raises(ValueError, match="no valid bucket"):
        get_settings(store="s3:///prefix")
    shared = get_settings(home=tmp_path, store="s3://team/kb/")
    assert shared.store == "s3://team/kb"


def test_lancedb_options_follow_the_aws_variables(store: str, s3_endpoint: str) -> None:
    from pipelines.config import get_settings
    from pipelines.store import location

    uri, options = location(get_settings())
    assert uri == f"{store}/lancedb"
    assert options["aws_endpoint"] == s3_endpoint
    assert options["allow_http"] == "true"
    assert options["aws_region"] == "us-east-1"
    assert options["new_table_enable_v2_manifest_paths"] == "true"
    assert "testing" not in json.dumps(options)  # keys stay in the environment


# --- ingest and search ----------------------------------------------------------------------
@pytest.mark.slow  # loads the embedding model (a local worker) and runs a real job
def test_ingest_into_the_store_is_searchable_from_a_home_that_shares_nothing_else(
    store: str, tmp_path: Path, shared: Path
) -> None:
    import inlet
    from pipelines import analytics, staging
    from pipelines.config import get_settings
    from pipelines.store import PRIMARY_KEY_META, Store

    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(shared / "pdfs/pypdf/crazyones.txt", docs / "crazy-ones.txt")
    (docs / "tides.md").write_text(
        "# Tides\n\nThe moon pulls the oceans; twice a day the tide rises along the harbour walls "
        "and the fishing boats lift off the mud.\n"
    )
    staged_src = tmp_path / "elsewhere" / "volcano.txt"
    staged_src.parent.mkdir()
    staged_src.write_text("A volcano erupted on the island, and ash fell on the villages for a week.\n")
    # a file another machine staged: this job names only its reference
    reference = staging.stage([staged_src], get_settings(), force=True).paths[0]
    assert staging.is_reference(reference)

    home_a = tmp_path / "home-a"
    summary = inlet.ingest([docs, reference], collection="shared", home=home_a, progress=False)
    assert summary["status"] == "completed", summary
    assert sorted(s["file"] for s in summary["sources"]) == ["crazy-ones.txt", "tides.md", "volcano.txt"]

    # the home keeps no LanceDB table and no analytics file: they are in the bucket
    local = _local_files(home_a)
    assert not [f for f in local if f.startswith(("lancedb", "analytics")) or f.endswith(".parquet")], local
    assert any(k.startswith("chunks.lance/") for k in object_keys(store, "lancedb"))
    assert any(k.startswith("events/") for k in object_keys(store, "analytics"))

    # a second home with the same store, and nothing else shared, sees all of it
    home_b = tmp_path / "home-b"
    hits = inlet.search("tide rises in the harbour", collection="shared", home=home_b, limit=3)
    assert hits["file"][0] == "tides.md"
    hits = inlet.search("volcanic ash over the villages", collection="shared", home=home_b, limit=3)
    assert hits["file"][0] == "volcano.txt"
    # tables on a store mark their key, so concurrent upserts of one new key conflict and retry
    chunks = Store(get_settings(home=home_b)).chunks()
    assert chunks is not None
    assert chunks.schema.field("chunk_id").metadata == {PRIMARY_KEY_META: b"true"}
    jobs = analytics.jobs(get_settings(home=home_b))
    assert summary["job_id"] in jobs["job_id"].to_list()
    assert not (home_b / "lancedb").exists() and not (home_b / "analytics").exists()


# --- several writer processes at once -------------------------------------------------------
WRITERS = 3
LANCE_ROWS = 5
WRITE_S = 3.0


def _writer(number: int, start: mp.synchronize.Barrier, out: str) -> None:
    """One machine's writes: rows added to a LanceDB table, then analytics events for a while."""
    import numpy as np

    from pipelines import analytics
    from pipelines.config import get_settings
    from pipelines.store import Store, VectorCache

    settings = get_settings()  # the store comes from INLET_STORE, as on another machine
    written, errors = 0, []
    try:
        table = Store(settings).db.open_table("concurrent")
        cache = VectorCache(Store(settings), 2)
        start.wait(timeout=120)
        for i in range(2):  # every process embeds the same new texts at once: one row per key
            cache.put({f"text-{k}": np.array([number, i], dtype=np.float32) for k in range(2)}, "m")
        for i in range(LANCE_ROWS):
            table.add([{"key": f"{number}-{i}", "vector": [float(number), float(i)]}])
        until = time.time() + WRITE_S
        while time.time() < until:
            batch = [
                {"job_id": f"job-{number}", "source_id": f"w{number}-{written + i}", "stage": "embed",
                 "event": "end", "chunks": 1}
                for i in range(3)
            ]  # fmt: skip
            analytics.record(settings, "events", batch)
            written += len(batch)
    except Exception:  # noqa: BLE001 - every error is the test's business
        errors.append(traceback.format_exc())
    Path(out).write_text(json.dumps({"written": written, "errors": errors}))


def test_three_writer_processes_lose_no_row_and_no_event_while_readers_and_compaction_run(
    store: str, tmp_path: Path
) -> None:
    from pipelines import analytics
    from pipelines.config import get_settings
    from pipelines.store import Store, VectorCache

    settings = get_settings()
    Store(settings).db.create_table("concurrent", data=[{"key": "seed", "vector": [0.0, 0.0]}])
    VectorCache(Store(settings), 2)  # made empty, as the first embedding batch would
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(WRITERS + 1)
    outs = [tmp_path / f"writer-{i}.json" for i in range(WRITERS)]
    procs = [ctx.Process(target=_writer, args=(i, start, str(outs[i]))) for i in range(WRITERS)]
    for p in procs:
        p.start()
    start.wait(timeout=120)
    counts, reader_errors, compactions = [], [], 0
    while any(p.is_alive() for p in procs):
        try:
            counts.append(analytics.query(settings, "SELECT count(*) FROM events").item())
            if len(counts) % 3 == 0:
                analytics.compact(settings, below_bytes=1 << 20)
                compactions += 1
        except Exception:  # noqa: BLE001
            reader_errors.append(traceback.format_exc())
        time.sleep(0.05)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    results = [json.loads(o.read_text()) for o in outs]
    assert [r["errors"] for r in results] == [[], [], []]
    assert reader_errors == []

    # LanceDB: every commit of every process is there (conflicts were retried, none lost), and
    # a key every process inserted at once is there once
    table = Store(get_settings()).db.open_table("concurrent")
    keys = sorted(table.to_arrow().column("key").to_pylist())
    assert keys == sorted(["seed", *(f"{n}-{i}" for n in range(WRITERS) for i in range(LANCE_ROWS))])
    cached = Store(get_settings()).db.open_table("vector_cache").to_arrow().column("key").to_pylist()
    assert sorted(cached) == ["text-0", "text-1"]
    assert table.uses_v2_manifest_paths()
    assert any(k.startswith("concurrent.lance/") for k in object_keys(store, "lancedb"))

    # analytics: every event once, counts never went back, compaction ran meanwhile
    assert compactions >= 1
    assert all(b >= a for a, b in zip(counts, counts[1:], strict=False)), counts
    written = sum(r["written"] for r in results)
    assert written > 30
    read = analytics.query(settings, "SELECT count(*) AS n, count(DISTINCT source_id) AS ids FROM events")
    assert (read["n"][0], read["ids"][0]) == (written, written)
    analytics.compact(settings, below_bytes=1 << 20)
    assert len(analytics.live_files(settings, "events")) == 1
    assert analytics.query(settings, "SELECT count(*) FROM events").item() == written
    assert not (settings.home / "lancedb").exists() and not (settings.home / "analytics").exists()


# --- analytics ----------------------------------------------------------------------------
def test_retention_on_the_store_removes_old_rows_only(store: str) -> None:
    import datetime as dt

    from pipelines import analytics
    from pipelines.config import get_settings

    settings = get_settings(events_retention_days=1)
    old = analytics.now() - dt.timedelta(days=3)
    analytics.record(settings, "events", [{"job_id": "old", "stage": "embed", "event": "end", "at": old}])
    analytics.record(settings, "events", [
        {"job_id": "mixed", "stage": "embed", "event": "end", "at": old},
        {"job_id": "mixed", "stage": "embed", "event": "start"},
    ])  # fmt: skip
    analytics.record(settings, "events", [{"job_id": "new", "stage": "embed", "event": "end"}])
    assert analytics.apply_retention(settings)["events"] == 2
    left = analytics.query(settings, "SELECT job_id, event FROM events ORDER BY job_id")
    assert left.rows() == [("mixed", "start"), ("new", "end")]
    assert len(analytics.live_files(settings, "events")) == 2
    assert not any(k.endswith(".replaces") for k in object_keys(store, "analytics"))


# --- staging ------------------------------------------------------------------------------
def test_a_file_is_staged_once_and_a_worker_reads_its_copy(store: str, tmp_path: Path) -> None:
    from pipelines import staging
    from pipelines.config import get_settings
    from pipelines.sources import discover, hash_file

    folder = tmp_path / "talk"
    folder.mkdir()
    (folder / "notes.md").write_text("# Notes\n\nThe first talk was about tides.\n")
    (folder / "slides.txt").write_bytes(b"slide one\nslide two\n" * 500)
    (folder / "copy-of-notes.md").write_bytes((folder / "notes.md").read_bytes())
    submitter = get_settings(mode="server")  # jobs run on a server: workers may be anywhere
    assert staging.needed(submitter) and not staging.needed(get_settings())

    first = staging.stage([folder], submitter)
    size = (folder / "notes.md").stat().st_size + (folder / "slides.txt").stat().st_size
    assert (first.files, first.sent, first.bytes_sent) == (3, 2, size)  # the copy is not sent
    ids = {hash_file(folder / n) for n in ("notes.md", "slides.txt")}
    assert object_keys(store, "inputs") == sorted(ids)
    assert all(staging.is_reference(p) for p in first.paths)
    assert first.paths[0].startswith(f"{store}/inputs/") and first.seconds > 0

    again = staging.stage([folder], submitter)
    assert (again.files, again.sent, again.bytes_sent) == (3, 0, 0)
    assert again.paths == first.paths

    # a worker with its own home fetches each reference into its cache, by its name
    worker = get_settings(home=tmp_path / "worker-home")
    found, refused = discover(first.paths, settings=worker)
    assert refused == []
    assert sorted(p.name for p in found) == ["copy-of-notes.md", "notes.md", "slides.txt"]
    assert all(p.is_relative_to(worker.cache_dir / "inputs") for p in found)
    for path in found:
        assert path.read_bytes() == (folder / path.name).read_bytes()

    missing = first.paths[0].replace(hash_file(folder / "copy-of-notes.md"), "0" * 64)
    found, refused = discover([missing], settings=worker)
    assert found == [] and [e.code for e in refused] == ["not_found"]


def test_shared_paths_and_embedded_mode_are_not_staged(store: str, tmp_path: Path) -> None:
    from pipelines import staging
    from pipelines.config import get_settings

    mount = tmp_path / "mount"
    mount.mkdir()
    (mount / "a.txt").write_text("on a mount every worker sees\n")
    local = tmp_path / "b.txt"
    local.write_text("only here\n")
    settings = get_settings(mode="server", shared_roots=[mount])
    staged = staging.stage([str(mount / "a.txt"), str(local), str(tmp_path / "gone.txt")], settings)
    assert staged.paths[0] == str(mount / "a.txt")
    assert staging.is_reference(staged.paths[1])
    assert staged.paths[2] == str(tmp_path / "gone.txt")  # the worker reports it as not found
    assert (staged.files, staged.sent) == (1, 1)

    embedded = staging.stage([str(local)], get_settings())
    assert embedded.paths == [str(local)] and embedded.files == 0
    no_store = staging.stage([str(local)], get_settings(mode="server", store=""))
    assert no_store.paths == [str(local)]
    assert os.environ["INLET_STORE"] == store


def test_a_reader_that_listed_files_compaction_removed_gets_an_error_it_starts_over_on(store: str) -> None:
    import duckdb

    from pipelines import analytics, objstore
    from pipelines.analytics.files import register_remote
    from pipelines.config import get_settings

    settings = get_settings()
    for i in range(3):
        analytics.record(settings, "events", [{"job_id": f"j{i}", "stage": "embed", "event": "end"}])
    listed = analytics.live_files(settings, "events")
    analytics.compact(settings, below_bytes=1 << 20)  # replaces the three files by one
    remote = objstore.remote(settings)
    assert remote is not None
    con = duckdb.connect(":memory:")
    with pytest.raises((duckdb.InvalidInputException, OSError)) as stale:
        con.sql(f"SELECT count(*) FROM {register_remote(con, remote, 'events', listed)}").fetchall()
    assert objstore.is_missing(stale.value)  # what read.query retries on
    assert analytics.query(settings, "SELECT count(*) FROM events").item() == 3
