"""``inlet ingest``: submit files and folders."""

from __future__ import annotations

import sys

import click

from inlet.cli import EXIT_FAILED_SOURCES, emit_json, main


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-c", "--collection", help="Collection to add to (default: 'default').")
@click.option("--priority", type=click.Choice(["high", "normal", "low"]), default="normal", show_default=True)
@click.option(
    "--pdf-password", "pdf_passwords", multiple=True, help="Password to try on encrypted PDFs (repeatable)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the job summary as JSON.")
def ingest(
    paths: tuple[str, ...],
    collection: str | None,
    priority: str,
    pdf_passwords: tuple[str, ...],
    as_json: bool,
) -> None:
    """Ingest files and folders: PDF, text, audio and video.

    Exit status 0 when every source is ingested or unchanged, 1 when any failed.

    \b
    Example:
      inlet ingest ~/papers talk.mp4 --collection research
    """
    import inlet
    from pipelines.config import get_settings

    settings = get_settings()
    if pdf_passwords:
        settings = settings.model_copy(update={"pdf_passwords": [*settings.pdf_passwords, *pdf_passwords]})
    summary = inlet.ingest(list(paths), collection=collection, priority=priority, settings=settings)
    if as_json:
        emit_json(summary)
    else:
        for source in summary["sources"]:
            line = f"{source['status']:>9}  {source['file']}"
            if source["kind"]:
                line += f" ({source['kind']}"
                line += (
                    f", {source['chunks']} chunk{'' if source['chunks'] == 1 else 's'})"
                    if source["status"] == "ingested"
                    else ")"
                )
            click.echo(line)
            if source["error"]:
                click.echo(f"           {source['error']['class']}: {source['error']['message']}")
                click.echo(f"           hint: {source['error']['hint']}")
        counts = {
            k: sum(s["status"] == k for s in summary["sources"]) for k in ("ingested", "unchanged", "failed")
        }
        click.echo(
            f"job {summary['job_id']} {summary['status']} in {summary['seconds']:.1f} s: "
            f"{counts['ingested']} ingested, {counts['unchanged']} unchanged, {counts['failed']} failed; "
            f"{summary['chunks_written']} chunks written into '{summary['collection']}'"
        )
    if summary["status"] != "completed":
        sys.exit(EXIT_FAILED_SOURCES)
