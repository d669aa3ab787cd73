"""``inlet show``: what is in the store."""

from __future__ import annotations

import click

from inlet.cli import clock, emit_json, main


@main.command()
@click.argument("source")
@click.option("--json", "as_json", is_flag=True)
def show(source: str, as_json: bool) -> None:
    """Show what was extracted from a source (a path, file name or source id)."""
    import inlet

    try:
        shown = inlet.show(source)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        emit_json(shown)
        return
    click.echo(f"{shown['file']} ({shown['kind']}, source {shown['source_id'][:12]})")
    for segment in shown["segments"]:
        where = (
            f"p. {segment['page']}"
            if "page" in segment
            else f"{clock(segment['start'])}-{clock(segment['end'])}"
        )
        if segment.get("page") is None and "page" in segment:
            where = ""
        click.echo(f"[{where}] {segment['text']}" if where else segment["text"])
