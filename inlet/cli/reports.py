"""``inlet errors`` and ``inlet stats``: reports over the analytics store."""

from __future__ import annotations

import click

from inlet.cli import emit_json, main


@main.command()
@click.option("--job", "job_id", help="Only the errors of this job.")
@click.option("--json", "as_json", is_flag=True)
def errors(job_id: str | None, as_json: bool) -> None:
    """List recorded failures with their class, message and recovery hint."""
    import inlet

    rows = inlet.errors(job_id).to_dicts()
    if as_json:
        keep = [
            "class",
            "message",
            "hint",
            "retryable",
            "file",
            "path",
            "stage",
            "job_id",
            "at",
            "source_id",
            "attempt",
        ]
        emit_json({"errors": [{k: r[k] for k in keep} for r in rows]})
        return
    if not rows:
        click.echo("No errors recorded.")
    for r in rows:
        click.echo(
            f"{r['at']:%Y-%m-%d %H:%M}  {r['class']:<18} {r['file']}  (job {r['job_id']}, {r['stage']})"
        )
        click.echo(f"    {r['message']}\n    hint: {r['hint']}")


@main.command()
@click.option("--json", "as_json", is_flag=True)
def stats(as_json: bool) -> None:
    """Totals: sources and chunks in the store, jobs and errors."""
    import inlet

    totals = inlet.stats()
    if as_json:
        emit_json(totals)
        return
    click.echo(f"home: {totals['home']}")
    click.echo(
        f"sources: {totals['sources']}   chunks: {totals['chunks']}   jobs: {totals['jobs']}   errors: {totals['errors']}"
    )
    for name, c in totals["collections"].items():
        click.echo(f"  {name}: {c['sources']} sources, {c['chunks']} chunks")
