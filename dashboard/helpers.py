"""Pure helpers behind the dashboard pages: formatting, citations and the library tables.

Nothing here imports Streamlit, so every function is tested on plain data
(``tests/dashboard/test_helpers.py``); the pages in ``dashboard/views`` only lay things out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeGuard, TypeVar

import polars as pl

from dashboard import strings
from inlet import uploads
from inlet.formats import clock, container_name, human_size
from inlet.records import is_media

# --- hits ------------------------------------------------------------------------------------


_T = TypeVar("_T")


def _present(value: _T | None) -> TypeGuard[_T]:
    """A value is there: neither ``None`` nor a float NaN (how polars and pandas mark a gap)."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def media_start(hit: Mapping[str, Any]) -> int:
    """Whole second where an audio or video player should start for this hit."""
    start = hit.get("time_start")
    return int(math.floor(float(start))) if _present(start) and float(start) > 0 else 0


def score_text(score: float | None, mode: str) -> str:
    """``similarity 0.636`` / ``keyword score 9.526`` / ``fused score 0.033``."""
    label = strings.SCORE_LABELS.get(mode, mode)
    return strings.SCORE.format(label=label, score=float(score or 0.0))


# --- Markdown ----------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~$])")
_LIST_START = re.compile(r"^(\s*)(\d+)([.)])")
_DEBRIS = re.compile(r"^\s*[.,;:!?]+(\s+[—–-]+)?\s+")


def markdown_escape(text: str | None) -> str:
    """``text`` made literal for ``st.markdown``: whitespace runs become one space, and the
    characters Markdown (or Streamlit's ``:color[…]`` and ``$math$``) would act on are
    backslash-escaped."""
    flat = " ".join(str(text or "").split())
    escaped = _MD_SPECIAL.sub(r"\\\1", flat)
    if escaped[:1] in ("-", "+"):
        escaped = "\\" + escaped
    return _LIST_START.sub(r"\1\2\\\3", escaped)


def snippet_markdown(snippet: str | None, mark: str = "**") -> str:
    """A search snippet as Markdown: its text escaped, its ``**word**`` marks kept as bold."""
    # a window can start just after a sentence ends (". — That to secure…"): drop that debris
    parts = _DEBRIS.sub("", str(snippet or "")).split(mark)
    if len(parts) % 2 == 0:  # an unpaired mark: show it as text rather than bold the rest
        return markdown_escape(mark.join(parts))
    out = []
    for i, part in enumerate(parts):
        text = markdown_escape(part)
        if i % 2 and text:
            out.append(f"{mark}{text}{mark}")
        elif not text:
            out.append(" " if part else "")  # the space between two marked words
        else:
            # keep the spaces next to a mark, which markdown_escape would trim
            lead = " " if part[:1].isspace() and i else ""
            trail = " " if part[-1:].isspace() and i < len(parts) - 1 else ""
            out.append(f"{lead}{text}{trail}")
    return "".join(out)


def hit_heading(hit: Mapping[str, Any]) -> str:
    """Markdown heading of one hit: the kind's icon and its ``citation`` (as ``inlet.search``
    writes it) in bold."""
    icon = strings.KIND_ICONS.get(str(hit.get("kind")), strings.UNKNOWN_ICON)
    return f"{icon} **{markdown_escape(hit['citation'])}**"


# --- filters -----------------------------------------------------------------------------------


def collection_options(stats: Mapping[str, Any]) -> list[str]:
    """``All`` then the collections in the store, sorted."""
    return [strings.ALL, *sorted(stats.get("collections") or {})]


def kind_options(stats: Mapping[str, Any]) -> list[str]:
    """``All`` then the kinds of source in the store, in a fixed order (pdf, text, audio, video)."""
    present = stats.get("sources_by_kind") or {}
    known = [k for k in strings.KIND_LABELS if k in present]
    return [strings.ALL, *known, *sorted(k for k in present if k not in strings.KIND_LABELS)]


def kind_label(kind: str | None) -> str:
    """``PDF``, ``Audio``, … for a kind; other values unchanged."""
    return strings.KIND_LABELS.get(str(kind), str(kind))


def filter_value(choice: str | None) -> str | None:
    """``None`` (no filter) for ``All`` or nothing, else the choice itself."""
    return None if choice in (None, "", strings.ALL) else choice


def paths_by_source(sources: pl.DataFrame) -> dict[str, str]:
    """``source_id -> path`` from ``Store.source_rows()`` (the newest path wins)."""
    if sources.height == 0 or not {"source_id", "path"} <= set(sources.columns):
        return {}
    frame = sources
    if "ingested_at" in frame.columns:
        frame = frame.sort("ingested_at", nulls_last=False)
    rows = frame.select("source_id", "path").iter_rows(named=True)
    return {r["source_id"]: r["path"] for r in rows if r["path"]}


# --- library tables --------------------------------------------------------------------------


def collection_table(stats: Mapping[str, Any], models: Mapping[str, str] | None = None) -> pl.DataFrame:
    """One row per collection: ``collection, sources, chunks``, by name, and with ``models``
    (``inlet.collections()``'s, by name) the embedding model each was made with (``model``)."""
    rows = [{"collection": name, "sources": int(v["sources"]), "chunks": int(v["chunks"])}
            for name, v in (stats.get("collections") or {}).items()]  # fmt: skip
    schema = {"collection": pl.Utf8, "sources": pl.Int64, "chunks": pl.Int64}
    frame = pl.DataFrame(rows, schema=schema).sort("collection")
    if models is None:
        return frame
    return frame.with_columns(
        pl.col("collection").replace_strict(dict(models), default=None, return_dtype=pl.Utf8).alias("model")
    )


def kind_table(stats: Mapping[str, Any], sources: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per kind: ``kind`` (as a label), ``sources`` (from ``stats``) and ``chunks``
    (summed over ``sources`` rows when given), in the order pdf, text, audio, video."""
    chunks: dict[str, int] = {}
    if sources is not None and sources.height and {"kind", "chunks"} <= set(sources.columns):
        summed = sources.group_by("kind").agg(pl.col("chunks").cast(pl.Int64).sum())
        chunks = {r["kind"]: int(r["chunks"] or 0) for r in summed.iter_rows(named=True)}
    by_kind = stats.get("sources_by_kind") or {}
    order = kind_options(stats)[1:]
    rows = [{"kind": kind_label(k), "sources": int(by_kind[k]), "chunks": chunks.get(k, 0)}
            for k in order]  # fmt: skip
    return pl.DataFrame(rows, schema={"kind": pl.Utf8, "sources": pl.Int64, "chunks": pl.Int64})


def source_length(kind: str | None, pages: Any, duration_s: Any) -> str:
    """``3 pages`` / ``1 page`` for documents, ``00:15.6`` for recordings, else ``""``."""
    if is_media(kind) and _present(duration_s):
        return clock(float(duration_s))
    if _present(pages):
        n = int(pages)
        return strings.ONE_PAGE if n == 1 else strings.PAGES.format(n=n)
    return ""


SOURCE_COLUMNS = ["collection", "file", "kind", "length", "chunks", "category", "keywords", "size", "language",
                  "ingested_at", "path"]  # fmt: skip


def sources_table(sources: pl.DataFrame) -> pl.DataFrame:
    """The ingested sources for people: collection, file, kind, length (pages or duration),
    chunks, category, keywords (comma-separated), size, language, when, path; by collection
    then file."""
    schema = {c: pl.Utf8 for c in SOURCE_COLUMNS} | {"chunks": pl.Int64}
    if sources.height == 0:
        return pl.DataFrame(schema=schema)
    rows = [
        {
            "collection": r.get("collection"), "file": r.get("file"),
            "kind": kind_label(r.get("kind")),
            "length": source_length(r.get("kind"), r.get("pages"), r.get("duration_s")),
            "chunks": int(r["chunks"]) if _present(r.get("chunks")) else None,
            "category": r.get("category") or "", "keywords": ", ".join(r.get("keywords") or []),
            "size": human_size(r.get("size")), "language": r.get("language") or "",
            "ingested_at": _when(r.get("ingested_at")), "path": r.get("path"),
        }
        for r in sources.iter_rows(named=True)
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=schema).sort("collection", "file")


ERROR_COLUMNS = ["at", "file", "class", "message", "hint", "stage", "retryable"]


def errors_table(errors: pl.DataFrame, limit: int = 10) -> pl.DataFrame:
    """The ``limit`` newest errors: when, file, class, message, hint, stage, retryable."""
    schema = {c: pl.Utf8 for c in ERROR_COLUMNS} | {"retryable": pl.Boolean}
    if errors.height == 0:
        return pl.DataFrame(schema=schema)
    frame = errors
    if "at" in frame.columns:
        frame = frame.sort("at", descending=True, nulls_last=True)
    rows = [{**{c: r.get(c) for c in ERROR_COLUMNS}, "at": _when(r.get("at"))}
            for r in frame.head(limit).iter_rows(named=True)]  # fmt: skip
    return pl.DataFrame(rows, schema=schema)


def error_markdown(error: Mapping[str, Any]) -> str:
    """One error as Markdown: class badge, file and stage, then message and what to do."""
    where = " · ".join(markdown_escape(_when(error[k]) if k == "at" else str(error[k]))
                       for k in ("file", "stage", "at") if error.get(k))  # fmt: skip
    lines = [f":red-badge[{markdown_escape(error.get('class') or 'error')}] {where}",
             markdown_escape(error.get("message"))]  # fmt: skip
    if error.get("hint"):
        lines.append(f"**{strings.COLUMNS['hint']}:** {markdown_escape(error['hint'])}")
    return "  \n".join(lines)


def labelled(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its columns renamed to the headings in :data:`strings.COLUMNS`."""
    return frame.rename({c: strings.COLUMNS[c] for c in frame.columns if c in strings.COLUMNS})


def _when(value: Any) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM`` in this machine's time zone (the dashboard runs
    next to its user); strings pass through."""
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        return str(_local(value).strftime("%Y-%m-%d %H:%M"))
    return str(value)


# --- upload ----------------------------------------------------------------------------------


def video_text(video: dict[str, Any] | None, file: str = "") -> str:
    """A video's facts in one line, as the library and search pages show them (the container by
    ``file``'s extension when FFmpeg's name for it lists several).

    >>> video_text({"duration_s": 12.0, "width": 640, "height": 360, "codec": "h264", "fps": 25.0,
    ...             "audio_codec": None, "container": "mov,mp4,m4a,3gp,3g2,mj2"}, "talk.mp4")
    'Video 00:12.0 · 640 × 360 · h264 25 fps · no sound track · mp4'
    """
    if not video:
        return ""
    parts = [strings.VIDEO_FACTS_HEAD + (f" {clock(video['duration_s'])}" if video.get("duration_s") else "")]
    if video.get("width"):
        parts.append(f"{video['width']} × {video['height']}")
    if video.get("codec"):
        parts.append(f"{video['codec']} {video['fps']:g} fps" if video.get("fps") else str(video["codec"]))
    parts.append(
        strings.VIDEO_SOUND.format(codec=video["audio_codec"])
        if video.get("audio_codec")
        else strings.VIDEO_NO_SOUND
    )
    if video.get("container"):
        parts.append(container_name(str(video["container"]), file))
    return " · ".join(parts)


def limits_text(settings: Any) -> str:
    """The upload limits of ``settings`` in words (sizes per kind, recording length, pages)."""
    return strings.UPLOAD_LIMITS.format(
        pdf=human_size(settings.max_bytes_pdf), text=human_size(settings.max_bytes_text),
        html=human_size(settings.max_bytes_html), docx=human_size(settings.max_bytes_docx),
        pptx=human_size(settings.max_bytes_pptx), xlsx=human_size(settings.max_bytes_xlsx),
        odt=human_size(settings.max_bytes_odt), ods=human_size(settings.max_bytes_ods),
        odp=human_size(settings.max_bytes_odp),
        email=human_size(settings.max_bytes_email), cells=f"{settings.max_sheet_cells:,}",
        epub=human_size(settings.max_bytes_epub), image=human_size(settings.max_bytes_image),
        ocr_pages=settings.max_ocr_pages, pixels=round(settings.max_image_pixels / 1e6),
        video_pixels=f"{settings.max_video_pixels / 1e6:.1f}".removesuffix(".0"),
        audio=human_size(settings.max_bytes_audio), video=human_size(settings.max_bytes_video),
        seconds=format_duration(settings.max_audio_seconds), pages=settings.max_pdf_pages,
    )  # fmt: skip


def format_duration(seconds: float | None) -> str:
    """``45 s``, ``12 min``, ``4 h``, ``1 h 30 min``: a limit or an ETA in words.

    >>> format_duration(45), format_duration(720), format_duration(14400), format_duration(5400)
    ('45 s', '12 min', '4 h', '1 h 30 min')
    """
    if seconds is None or not math.isfinite(float(seconds)):
        return "?"
    total = round(float(seconds))
    if total < 60:
        return f"{total} s"
    hours, minutes = divmod(round(total / 60), 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def upload_collections(stats: Mapping[str, Any], default: str) -> list[str]:
    """Collections to offer on upload: the default one first, then those in the store."""
    return [default, *sorted(c for c in (stats.get("collections") or {}) if c != default)]


def collection_name(choice: str | None) -> str | None:
    """A typed collection name, trimmed; ``None`` when empty or not a plain name (the rule of
    :func:`inlet.uploads.collection_name`, which the HTTP API applies too).

    >>> collection_name("  research "), collection_name(""), collection_name("../x")
    ('research', None, None)
    """
    return uploads.collection_name(choice)


def rejection_text(name: str, error: Any) -> str:
    """Why one uploaded file was refused, and what to do, as Markdown."""
    return strings.UPLOAD_REJECTED.format(
        name=markdown_escape(name), message=markdown_escape(error.message.rstrip(".")),
        hint=markdown_escape(error.hint),
    )  # fmt: skip


def accepted_text(names: list[str], job_id: str) -> str:
    """``2 files accepted (a.pdf, b.wav) and queued as job `…`.``"""
    template = strings.UPLOAD_ONE_ACCEPTED if len(names) == 1 else strings.UPLOAD_ACCEPTED
    return template.format(n=len(names), names=markdown_escape(", ".join(names)), job_id=job_id)


# --- jobs ------------------------------------------------------------------------------------


def finished(job: Mapping[str, Any]) -> bool:
    """Whether the job has ended (the ``finished`` column of ``inlet.jobs()``)."""
    return bool(job.get("finished"))


def status_state(status: str | None) -> Literal["running", "complete", "error"]:
    """``st.status`` state for a job status: running until it ends, then complete or error."""
    if status in ("completed",):
        return "complete"
    if status in ("failed", "partially_failed", "cancelled"):
        return "error"
    return "running"


def job_label(job: Mapping[str, Any]) -> str:
    """``Job 3f2a… · research · running``."""
    status = strings.JOB_STATUS.get(str(job.get("status")), str(job.get("status")))
    return strings.JOB_LABEL.format(
        job_id=job["job_id"], collection=job.get("collection") or "", status=status
    )


def progress_value(job: Mapping[str, Any]) -> float:
    """The job's progress as 0..1, as ``inlet.jobs()`` reports it."""
    value = job.get("progress")
    return min(max(float(value), 0.0), 1.0) if _present(value) else 0.0


def progress_text(job: Mapping[str, Any]) -> str:
    """``40% · about 1 min left`` (or ``finished``, or ``time left not known yet``)."""
    value = progress_value(job)
    if finished(job):
        eta = strings.ETA_DONE
    elif _present(job.get("eta_s")):
        eta = strings.ETA.format(clock=format_duration(job["eta_s"]))
    else:
        eta = strings.ETA_UNKNOWN
    return strings.JOB_PROGRESS.format(percent=int(value * 100), eta=eta)


def job_summary(job: Mapping[str, Any]) -> str:
    """Files, failures, priority, times and requeues of one job in a line."""
    values = {
        "sources": int(job.get("sources") or 0), "failed": int(job.get("failed") or 0),
        "priority": job.get("priority") or "normal", "submitted": _when(job.get("submitted_at")),
        "finished": _when(job.get("finished_at")),
    }  # fmt: skip
    template = strings.JOB_SUMMARY if job.get("finished_at") else strings.JOB_SUMMARY_RUNNING
    requeues = int(job.get("requeues") or 0)
    return template.format(**values) + (strings.REQUEUED.format(requeues=requeues) if requeues else "")


JOB_SOURCE_COLUMNS = ["file", "kind", "stage", "status", "progress", "message"]
_SOURCE_DONE = frozenset({"ingested", "unchanged"})  # no current stage once a file is through


def job_sources_table(sources: pl.DataFrame) -> pl.DataFrame:
    """Per file of a job: file, kind, current stage, status, progress (0–100), error message."""
    schema = {c: pl.Utf8 for c in JOB_SOURCE_COLUMNS} | {"progress": pl.Int64}
    if sources.height == 0:
        return pl.DataFrame(schema=schema)
    rows = []
    for r in sources.iter_rows(named=True):
        message = r.get("error_message") or r.get("error_class") or ""
        rows.append({
            "file": r.get("file"), "kind": kind_label(r.get("kind")),
            "stage": "" if r.get("status") in _SOURCE_DONE else
                     strings.SOURCE_STAGE.get(str(r.get("stage")), r.get("stage") or ""),
            "status": strings.SOURCE_STATUS.get(str(r.get("status")), r.get("status") or ""),
            "progress": round(100 * float(r["progress"])) if _present(r.get("progress")) else 0,
            "message": message,
        })  # fmt: skip
    return pl.DataFrame(rows, schema=schema)


def last_message(sources: pl.DataFrame) -> str | None:
    """What happened last in a job: ``file: stage status`` of the newest source event, or its
    error message."""
    if sources.height == 0 or "last_at" not in sources.columns:
        return None
    newest = sources.sort("last_at", nulls_last=False).row(-1, named=True)
    status = strings.SOURCE_STATUS.get(str(newest.get("status")), newest.get("status") or "")
    if newest.get("error_message"):
        what = str(newest["error_message"])
    elif newest.get("status") in ("ingested", "unchanged", "cancelled", "failed"):
        what = status
    else:
        stage = strings.SOURCE_STAGE.get(str(newest.get("stage")), newest.get("stage") or "")
        what = f"{stage} {status}".strip()
    return strings.LAST_MESSAGE.format(message=f"{newest.get('file')}: {what}")


def pick_job(jobs: pl.DataFrame, wanted: str | None) -> str | None:
    """The job to open: ``wanted`` (from the URL) when known, else none."""
    if wanted and jobs.height and wanted in set(jobs["job_id"]):
        return wanted
    return None


# --- errors ----------------------------------------------------------------------------------


def error_groups(errors: pl.DataFrame) -> list[dict[str, Any]]:
    """Errors grouped by class, the largest group first: ``class, count, hint, retryable,
    message`` (the newest), and ``rows`` (that group's errors, newest first)."""
    if errors.height == 0:
        return []
    frame = errors.sort("at", descending=True, nulls_last=True) if "at" in errors.columns else errors
    groups = []
    for (cls,), rows in frame.group_by(["class"], maintain_order=True):
        first = rows.row(0, named=True)
        groups.append({"class": cls, "count": rows.height, "hint": first.get("hint") or "",
                       "retryable": bool(first.get("retryable")), "message": first.get("message") or "",
                       "rows": rows})  # fmt: skip
    return sorted(groups, key=lambda g: (-g["count"], str(g["class"])))


def retry_targets(rows: pl.DataFrame) -> list[str]:
    """The distinct jobs that own these errors (what to retry), newest first."""
    if rows.height == 0 or "job_id" not in rows.columns:
        return []
    return [j for j in rows["job_id"].unique(maintain_order=True).to_list() if j]


# --- health ----------------------------------------------------------------------------------


def stores_table(stores: pl.DataFrame) -> pl.DataFrame:
    """The store sizes for people: ``what``, ``rows`` (as text, blank when not counted), ``size``."""
    rows = [{"what": r["what"], "rows": "" if r["rows"] is None else f"{r['rows']:,}",
             "size": human_size(r["bytes"])} for r in stores.iter_rows(named=True)]  # fmt: skip
    return pl.DataFrame(rows, schema={"what": pl.Utf8, "rows": pl.Utf8, "size": pl.Utf8})


def group_markdown(group: Mapping[str, Any]) -> str:
    """The newest message of an error group and what to do about it."""
    return strings.GROUP_TEXT.format(
        message=markdown_escape(group["message"]), hint=markdown_escape(group["hint"])
    )


# --- statistics ------------------------------------------------------------------------------


def percent(rate: float | None) -> str:
    """``97%``; ``–`` when nothing finished yet."""
    return "–" if rate is None else f"{round(100 * rate)}%"


def success_rate(outcomes: pl.DataFrame) -> float | None:
    """Share of finished sources that succeeded, over every row of an outcome frame."""
    if outcomes.height == 0:
        return None
    ok, failed = int(outcomes["succeeded"].sum()), int(outcomes["failed"].sum())
    return ok / (ok + failed) if ok + failed else None


def throughput(buckets: pl.DataFrame) -> pl.DataFrame:
    """Files finished per time bucket and kind, for a bar chart: ``time`` (local; with seconds
    for buckets under a minute, a date for day buckets), ``kind`` (its label), ``files``, from
    ``inlet.stats()["throughput"]`` (which chooses the bucket width)."""
    schema = {"time": pl.Utf8, "kind": pl.Utf8, "files": pl.Int64}
    if buckets.height == 0:
        return pl.DataFrame(schema=schema)
    width = int(buckets["bucket_s"][0])
    fmt = "%Y-%m-%d" if width >= 86400 else "%m-%d %H:%M:%S" if width < 60 else "%m-%d %H:%M"
    kinds = (
        buckets["kind"]
        .replace_strict(strings.KIND_LABELS, default=buckets["kind"])
        .fill_null(strings.UNKNOWN_KIND)
    )
    times = [_local(b).strftime(fmt) for b in buckets["bucket"]]
    return pl.DataFrame({"time": times, "kind": kinds, "files": buckets["files"]}, schema=schema)


def stage_durations(stages: pl.DataFrame) -> pl.DataFrame:
    """Long frame for a grouped bar chart: ``stage``, ``measure`` (median, 95th percentile),
    ``seconds``; stages in pipeline order."""
    schema = {"stage": pl.Utf8, "measure": pl.Utf8, "seconds": pl.Float64}
    rows = []
    for r in stages.iter_rows(named=True):
        stage = strings.SOURCE_STAGE.get(str(r["stage"]), str(r["stage"]))
        for measure, column in (("median", "p50_s"), ("95th percentile", "p95_s")):
            if _present(r.get(column)):
                rows.append({"stage": stage, "measure": measure, "seconds": round(float(r[column]), 3)})
    return pl.DataFrame(rows, schema=schema)


def breaker_line(name: str, row: Mapping[str, Any]) -> str:
    """One circuit breaker as Markdown: plain when closed (working), else a red (open) or orange
    (half-open) badge with the failures and the last error."""
    values = {"failures": row.get("failures") or 0, "error_class": row.get("error_class") or "",
              "message": markdown_escape(str(row.get("message") or ""))}  # fmt: skip
    if row.get("state") == "open":
        return f":red-badge[{name}] " + strings.BREAKER_OPEN.format(**values)
    if row.get("state") == "half_open":
        return f":orange-badge[{name}] " + strings.BREAKER_HALF_OPEN.format(**values)
    return f"**{name}**: " + strings.BREAKER_CLOSED


def stage_memory(stages: pl.DataFrame) -> pl.DataFrame:
    """Peak memory per stage: ``stage`` (its label), ``median MB``, ``largest MB`` over the
    sources whose events carry it; stages without a figure are left out."""
    schema = {"stage": pl.Utf8, strings.MEMORY_MEDIAN: pl.Float64, strings.MEMORY_MAX: pl.Float64}
    rows = [
        {"stage": strings.SOURCE_STAGE.get(str(r["stage"]), str(r["stage"])),
         strings.MEMORY_MEDIAN: round(float(r["peak_mb_p50"]), 1),
         strings.MEMORY_MAX: round(float(r["peak_mb_max"]), 1)}
        for r in stages.iter_rows(named=True)
        if _present(r.get("peak_mb_max")) and _present(r.get("peak_mb_p50"))
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=schema)


def outcome_table(outcomes: pl.DataFrame, by: str) -> pl.DataFrame:
    """Per kind or collection: sources, succeeded, failed, success rate (as ``97%``)."""
    schema = {by: pl.Utf8, "sources": pl.Int64, "succeeded": pl.Int64, "failed": pl.Int64, "success": pl.Utf8}
    rows = [
        {by: kind_label(r[by]) if by == "kind" else r[by], "sources": int(r["sources"]),
         "succeeded": int(r["succeeded"]), "failed": int(r["failed"]),
         "success": percent(r["success_rate"] if _present(r.get("success_rate")) else None)}
        for r in outcomes.iter_rows(named=True)
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=schema)


def errors_over_time(errors_by_class: pl.DataFrame) -> pl.DataFrame:
    """``time`` (local), ``class``, ``errors`` from ``statistics()["errors_by_class"]``."""
    times = [_local(b).strftime("%m-%d %H:%M") for b in errors_by_class["bucket"]]
    return pl.DataFrame(
        {"time": times, "class": errors_by_class["class"], "errors": errors_by_class["errors"]}
    )


def _local(value: Any) -> Any:
    return value.astimezone() if getattr(value, "tzinfo", None) is not None else value


def stage_chart(durations: pl.DataFrame) -> Any:
    """Grouped bars of stage durations (median and 95th percentile), stages in pipeline order."""
    import altair as alt

    order = [label for label in strings.SOURCE_STAGE.values() if label in set(durations["stage"])]
    return (
        alt.Chart(durations.to_pandas())
        .mark_bar()
        .encode(
            x=alt.X("stage:N", sort=order, title=strings.COLUMNS["stage_label"]),
            xOffset=alt.XOffset("measure:N"),
            y=alt.Y("seconds:Q", title=strings.SECONDS_AXIS),
            color=alt.Color("measure:N", title=None),
            tooltip=["stage", "measure", "seconds"],
        )
        .properties(height=260)
    )


# --- search filters ----------------------------------------------------------------------------


def file_options(sources: pl.DataFrame) -> list[str]:
    """``All`` then the file names in the store, sorted."""
    if sources.height == 0 or "file" not in sources.columns:
        return [strings.ALL]
    return [strings.ALL, *sorted({f for f in sources["file"].to_list() if f})]


def language_options(sources: pl.DataFrame) -> list[str]:
    """``All`` then the languages of the sources, sorted."""
    if sources.height == 0 or "language" not in sources.columns:
        return [strings.ALL]
    return [strings.ALL, *sorted({x for x in sources["language"].to_list() if x})]


def date_range(dates: Any) -> tuple[Any, Any]:
    """``(since, until)`` from ``st.date_input``'s value: ``()``, ``(day,)`` (a range being
    chosen: from that day on) or ``(first, last)``; a single date means that day only."""
    if dates is None or dates == ():
        return None, None
    if isinstance(dates, tuple | list):
        if len(dates) == 1:
            return dates[0], None
        return dates[0], dates[1]
    return dates, dates


# --- analysis: keywords, summary, category -------------------------------------------------------


def category_options(sources: pl.DataFrame) -> list[str]:
    """``All`` then the categories the sources have, sorted."""
    if sources.height == 0 or "category" not in sources.columns:
        return [strings.ALL]
    return [strings.ALL, *sorted({c for c in sources["category"].to_list() if c})]


def keyword_options(sources: pl.DataFrame) -> list[str]:
    """``All`` then every keyword of the sources, most frequent first (then alphabetical)."""
    if sources.height == 0 or "keywords" not in sources.columns:
        return [strings.ALL]
    counts: dict[str, int] = {}
    for keywords in sources["keywords"].to_list():
        for keyword in keywords or []:
            counts[keyword.lower()] = counts.get(keyword.lower(), 0) + 1
    return [strings.ALL, *sorted(counts, key=lambda k: (-counts[k], k))]


def keyword_chips(keywords: list[str] | None) -> str:
    """Keywords as Markdown badges, one chip each (``""`` when there are none)."""
    return " ".join(f":gray-badge[{markdown_escape(k)}]" for k in keywords or [])


def category_text(category: str | None, score: float | None) -> str:
    """``biology (0.41)``, or the words for no category."""
    if not category:
        return strings.NO_CATEGORY
    return f"{category} ({score:.2f})" if _present(score) else category


def summary_markdown(summary: Sequence[Mapping[str, Any]] | None) -> str:
    """A source's summary sentences, each with its citation in italics (``""`` when none)."""
    return "  \n".join(
        f"{markdown_escape(s.get('text'))} *({markdown_escape(s.get('citation'))})*" for s in summary or []
    )


def labels_text(labels: Sequence[Mapping[str, str]]) -> str:
    """A collection's labels as the labels box shows them: one ``name: description`` a line."""
    return "\n".join(
        f"{x['name']}: {x['description']}" if x.get("description") else x["name"] for x in labels
    )


def parse_labels_text(text: str | None) -> list[str]:
    """The labels typed in the labels box: one a line, blank lines ignored."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]
