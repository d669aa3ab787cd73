"""Pure helpers behind the dashboard pages: formatting, citations and the library tables.

Nothing here imports Streamlit, so every function is tested on plain data
(``tests/dashboard/test_helpers.py``); the pages in ``dashboard/views`` only lay things out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import polars as pl

from dashboard import strings

# --- numbers and times ---------------------------------------------------------------------


def format_clock(seconds: float | None) -> str:
    """``mm:ss.s`` (``h:mm:ss.s`` from one hour on); ``?`` when unknown.

    >>> format_clock(7.5), format_clock(75), format_clock(3725.25)
    ('00:07.5', '01:15.0', '1:02:05.2')
    """
    if seconds is None or not math.isfinite(float(seconds)):
        return "?"
    tenths = round(max(float(seconds), 0.0) * 10)  # round once, so 59.96 s is 01:00.0
    hours, rest = divmod(tenths, 36000)
    minutes, rest = divmod(rest, 600)
    clock = f"{minutes:02d}:{rest // 10:02d}.{rest % 10}"
    return f"{hours}:{clock}" if hours else clock


def format_bytes(size: int | None) -> str:
    """``512 B``, ``4.9 kB``, ``1.2 MB`` (powers of 1000, as file managers show them)."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


# --- citations -------------------------------------------------------------------------------


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def location(hit: Mapping[str, Any]) -> str:
    """Where in its source a hit is: ``p. 2``, ``pp. 2-3``, ``00:07.5–00:15.5`` or ``""``."""
    if _present(hit.get("page_start")):
        start = int(hit["page_start"])
        end = int(hit["page_end"]) if _present(hit.get("page_end")) else start
        return f"p. {start}" if end == start else f"pp. {start}-{end}"
    if _present(hit.get("time_start")):
        end = hit.get("time_end") if _present(hit.get("time_end")) else None
        return f"{format_clock(hit['time_start'])}–{format_clock(end)}"
    return ""


def citation(hit: Mapping[str, Any]) -> str:
    """``file, p. 2`` / ``file, pp. 2-3`` / ``file, 00:07.5–00:15.5`` / ``file``."""
    where = location(hit)
    return f"{hit['file']}, {where}" if where else str(hit["file"])


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
    """Markdown heading of one hit: the kind's icon and the citation in bold."""
    icon = strings.KIND_ICONS.get(str(hit.get("kind")), strings.UNKNOWN_ICON)
    return f"{icon} **{markdown_escape(citation(hit))}**"


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


def collection_table(stats: Mapping[str, Any]) -> pl.DataFrame:
    """One row per collection: ``collection, sources, chunks``, by name."""
    rows = [{"collection": name, "sources": int(v["sources"]), "chunks": int(v["chunks"])}
            for name, v in (stats.get("collections") or {}).items()]  # fmt: skip
    schema = {"collection": pl.Utf8, "sources": pl.Int64, "chunks": pl.Int64}
    return pl.DataFrame(rows, schema=schema).sort("collection")


def kind_table(stats: Mapping[str, Any], sources: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per kind: ``kind`` (as a label), ``sources`` (from ``stats``) and ``chunks``
    (summed over ``sources`` rows when given), in the order pdf, text, audio, video."""
    chunks: dict[str, int] = {}
    if sources is not None and sources.height and {"kind", "n_chunks"} <= set(sources.columns):
        summed = sources.group_by("kind").agg(pl.col("n_chunks").cast(pl.Int64).sum())
        chunks = {r["kind"]: int(r["n_chunks"] or 0) for r in summed.iter_rows(named=True)}
    by_kind = stats.get("sources_by_kind") or {}
    order = kind_options(stats)[1:]
    rows = [{"kind": kind_label(k), "sources": int(by_kind[k]), "chunks": chunks.get(k, 0)}
            for k in order]  # fmt: skip
    return pl.DataFrame(rows, schema={"kind": pl.Utf8, "sources": pl.Int64, "chunks": pl.Int64})


def source_length(kind: str | None, pages: Any, duration_s: Any) -> str:
    """``3 pages`` / ``1 page`` for documents, ``00:15.6`` for recordings, else ``""``."""
    if kind in ("audio", "video") and _present(duration_s):
        return format_clock(float(duration_s))
    if _present(pages):
        n = int(pages)
        return strings.ONE_PAGE if n == 1 else strings.PAGES.format(n=n)
    return ""


SOURCE_COLUMNS = ["collection", "file", "kind", "length", "chunks", "size", "language",
                  "ingested_at", "path"]  # fmt: skip


def sources_table(sources: pl.DataFrame) -> pl.DataFrame:
    """The ingested sources for people: collection, file, kind, length (pages or duration),
    chunks, size, language, when, path; by collection then file."""
    schema = {c: pl.Utf8 for c in SOURCE_COLUMNS} | {"chunks": pl.Int64}
    if sources.height == 0:
        return pl.DataFrame(schema=schema)
    rows = [
        {
            "collection": r.get("collection"), "file": r.get("file"),
            "kind": kind_label(r.get("kind")),
            "length": source_length(r.get("kind"), r.get("pages"), r.get("duration_s")),
            "chunks": int(r["n_chunks"]) if _present(r.get("n_chunks")) else None,
            "size": format_bytes(r.get("size")), "language": r.get("language") or "",
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
    where = " · ".join(markdown_escape(str(error[k])) for k in ("file", "stage", "at")
                       if error.get(k))  # fmt: skip
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
        if getattr(value, "tzinfo", None) is not None:
            value = value.astimezone()
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)
