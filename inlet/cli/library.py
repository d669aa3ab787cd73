"""``inlet sources``, ``inlet collections``, ``inlet show``, ``inlet delete``: what is in the store."""

from __future__ import annotations

from typing import Any

import click

from inlet.cli.app import emit_json, main
from pipelines.formats import clock, container_name, printable
from pipelines.records import KINDS, is_media

SOURCE_KEYS = [
    "source_id", "file", "path", "kind", "collection", "pages", "duration_s", "chunks", "language",
    "size", "ingested_at", "keywords", "summary", "category", "category_score",
]  # fmt: skip


@main.command()
@click.option("-c", "--collection", help="Only the sources of this collection.")
@click.option("--kind", type=click.Choice(KINDS), help="Only sources of this kind.")
@click.option("--category", help="Only sources of this category (a label of their collection).")
@click.option("--keyword", help="Only sources with this keyword (whole words of a keyword phrase).")
@click.option("--json", "as_json", is_flag=True)
def sources(
    collection: str | None, kind: str | None, category: str | None, keyword: str | None, as_json: bool
) -> None:
    """List the ingested sources, newest first, with their category and keywords.

    \b
    Examples:
      inlet sources --collection research
      inlet sources --kind audio --json
      inlet sources --collection research --category biology --keyword protein
    """
    import inlet

    rows = inlet.sources(collection, kind=kind, category=category, keyword=keyword).to_dicts()
    if as_json:
        emit_json({"sources": [{k: r[k] for k in SOURCE_KEYS} for r in rows]})
        return
    if not rows:
        click.echo("No sources ingested" + (f" in collection {collection!r}." if collection else "."))
    for r in rows:
        extent = clock(r["duration_s"]) if is_media(r["kind"]) else f"{r['pages'] or 0} p."
        when = f"{r['ingested_at']:%Y-%m-%d %H:%M}" if r["ingested_at"] else "?"
        click.echo(
            f"{r['source_id'][:12]}  {r['collection']:<12} {r['kind']:<5} {extent:>8}  "
            f"{r['chunks']:>5} chunks  {when}  {printable(r['file'] or '')}"
        )
        about = "; ".join(filter(None, [r["category"], ", ".join(r["keywords"] or [])]))
        if about:
            click.echo(f"{'':14}{printable(about)}")


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def collections(ctx: click.Context, as_json: bool) -> None:
    """List the collections: sources, chunks, kinds, the last ingest and the embedding model
    each was made with (``inlet ingest --model``); or manage a collection's labels (the categories its sources are sorted into).

    \b
    Examples:
      inlet collections
      inlet collections set-labels research "biology: cells, proteins, disease" "physics: particles, energy"
      inlet collections labels research
      inlet collections set-labels research --clear
    """
    if ctx.invoked_subcommand is not None:
        return
    import inlet

    rows = inlet.collections().to_dicts()
    if as_json:
        emit_json({"collections": rows})
        return
    if not rows:
        click.echo("No collections yet: inlet ingest PATH --collection NAME")
    for r in rows:
        when = f"{r['last_ingest']:%Y-%m-%d %H:%M}" if r["last_ingest"] else "?"
        click.echo(
            f"{r['collection']:<16} {r['sources']:>5} sources {r['chunks']:>7} chunks  "
            f"{', '.join(r['kinds'])}  last ingest {when}  model {r['model'] or '?'}"
        )


@collections.command("set-labels")
@click.argument("collection")
@click.argument("labels", nargs=-1)
@click.option("--clear", is_flag=True, help="Remove the collection's labels (and its sources' categories).")
@click.option("--json", "as_json", is_flag=True)
def set_labels(collection: str, labels: tuple[str, ...], clear: bool, as_json: bool) -> None:
    """Set COLLECTION's labels ("name: description" each) and categorise its sources again.

    Each source gets the label whose name and description are most similar to its text (none
    below INLET_CATEGORY_MIN_SIMILARITY). Nothing is embedded again but the labels.
    """
    import inlet

    if bool(labels) == clear:
        raise click.UsageError('give labels ("name: description" ...) or --clear, not both or neither')
    try:
        done = inlet.set_labels(collection, None if clear else list(labels))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="LABELS") from exc
    if as_json:
        emit_json(done)
        return
    names = ", ".join(label["name"] for label in done["labels"]) or "none"
    click.echo(
        f"{collection}: labels {printable(names)}; {done['categorised']} of {done['sources']} sources categorised"
    )


@collections.command("labels")
@click.argument("collection")
@click.option("--json", "as_json", is_flag=True)
def list_labels(collection: str, as_json: bool) -> None:
    """Show COLLECTION's labels."""
    import inlet

    found = inlet.labels(collection)
    if as_json:
        emit_json({"collection": collection, "labels": found})
        return
    if not found:
        click.echo(
            f'No labels in collection {collection!r}: inlet collections set-labels {collection} "name: description"'
        )
    for label in found:
        click.echo(
            printable(f"{label['name']}: {label['description']}" if label["description"] else label["name"])
        )


def video_line(video: dict[str, Any]) -> str:
    """A video's facts on one line: length, picture size, codecs, frame rate, container.

    >>> video_line({"duration_s": 12.0, "width": 640, "height": 360, "codec": "h264", "fps": 25.0,
    ...             "audio_codec": None, "container": "mov,mp4,m4a,3gp,3g2,mj2"})
    '00:12.0, 640x360, h264 25 fps, no sound track, mov'
    """
    parts = [clock(video["duration_s"])] if video.get("duration_s") else []
    if video.get("width"):
        parts.append(f"{video['width']}x{video['height']}")
    if video.get("codec"):
        parts.append(f"{video['codec']} {video['fps']:g} fps" if video.get("fps") else video["codec"])
    parts.append(f"{video['audio_codec']} sound" if video.get("audio_codec") else "no sound track")
    if video.get("container"):
        parts.append(container_name(video["container"], video.get("file") or ""))
    return ", ".join(parts)


@main.command()
@click.argument("source")
@click.option("--json", "as_json", is_flag=True)
def show(source: str, as_json: bool) -> None:
    """Show what was extracted from a source (a path, file name or source id)."""
    import inlet
    from pipelines.search import part

    shown = inlet.show(source)
    if as_json:
        emit_json(shown)
        return
    click.echo(f"{printable(shown['file'] or '')} ({shown['kind']}, source {shown['source_id'][:12]})")
    if shown.get("collection"):
        click.echo(f"Collection: {printable(shown['collection'])} (embedding model {shown['model']})")
    if shown.get("category"):
        click.echo(f"Category: {printable(shown['category'])} ({shown['category_score']:.2f})")
    if shown.get("keywords"):
        click.echo(f"Keywords: {printable(', '.join(shown['keywords']))}")
    for sentence in shown.get("summary") or []:
        click.echo(f"Summary: {printable(sentence['text'])} [{printable(sentence['citation'])}]")
    video = shown.get("video")
    if video:
        click.echo(f"video: {printable(video_line({**video, 'file': shown['file']}))}")
    for warning in shown.get("warnings") or []:
        click.echo(f"note: {printable(warning)}")
    spoken = {s.get("language") for s in shown["segments"] if s.get("language")}
    for segment in shown["segments"]:
        if "page" in segment:  # a document: its page (an e-book's chapter), when it has one
            where = part(shown["kind"], segment["page"]) if segment["page"] is not None else ""
        else:
            where = f"{clock(segment['start'])}–{clock(segment['end'])}"
        if len(spoken) > 1:  # a recording in several languages: each stretch says its own
            where = f"{where}, {segment['language']}"
        if segment.get("ocr_confidence") is not None:  # read by OCR: say so, as citations do
            where = ", ".join(filter(None, [where, f"OCR {round(segment['ocr_confidence'])} %"]))
        click.echo(f"[{where}] {segment['text']}" if where else segment["text"])


@main.command()
@click.argument("target", required=False)
@click.option("-c", "--collection", help="Only from this collection; alone, the whole collection.")
@click.option(
    "--purge-cache", is_flag=True, help="Also remove the cached extractions of the removed sources."
)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True)
def delete(target: str | None, collection: str | None, purge_cache: bool, yes: bool, as_json: bool) -> None:
    """Remove a source (a path, file name or source id) or a whole collection from the index.

    Its chunks and source rows go; job history and errors stay; cached extractions stay unless
    --purge-cache (so ingesting the same file again skips transcription). Asks first unless --yes.

    \b
    Examples:
      inlet delete old_draft.pdf --collection research
      inlet delete --collection scratch --yes --json
    """
    import inlet

    plan = inlet.delete(target, collection=collection, dry_run=True)
    if not yes:
        click.confirm(_describe(plan), abort=True, err=True)
    done = inlet.delete(target, collection=collection, purge_cache=purge_cache)
    if as_json:
        emit_json(done)
        return
    click.echo(
        f"Removed {len(done['sources'])} sources ({done['chunks_removed']} chunks) from "
        f"{', '.join(done['collections'])}"
        + (f"; {done['cache_files_removed']} cached extractions" if purge_cache else "")
    )


def _describe(plan: dict[str, Any]) -> str:
    files = [printable(s["file"] or "") for s in plan["sources"]]
    shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    return (
        f"Remove {len(files)} sources ({plan['chunks_removed']} chunks) from "
        f"{', '.join(plan['collections'])}: {shown}?"
    )
