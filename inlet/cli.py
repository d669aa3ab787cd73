"""The ``inlet`` command. Every command takes ``--json`` and then prints one JSON document.

Errors are turned into their surface form here, in one place: a message with its hint on
stderr and a non-zero exit status.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

EXIT_FAILED_SOURCES = 1
EXIT_USAGE = 2


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=_json_default, ensure_ascii=False))


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(float(seconds), 60)
    return f"{int(minutes):02d}:{secs:04.1f}"


def citation(hit: dict[str, Any]) -> str:
    """``file, p. 2`` / ``file, pp. 2-3`` / ``file, 00:07.5-00:15.5`` / ``file``."""
    where = ""
    if hit.get("page_start") is not None:
        start, end = hit["page_start"], hit.get("page_end") or hit["page_start"]
        where = f", p. {start}" if start == end else f", pp. {start}-{end}"
    elif hit.get("time_start") is not None:
        where = f", {_clock(hit['time_start'])}-{_clock(hit.get('time_end'))}"
    return f"{hit['file']}{where}"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    envvar="INLET_HOME",
    help="Folder holding inlet's stores (default ~/.inlet; env INLET_HOME).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show Prefect's run logs.")
@click.version_option(package_name="inlet")
def main(home: str | None, verbose: bool) -> None:
    """inlet: turn documents and recordings into a searchable knowledge base.

    \b
    Examples:
      inlet ingest ~/papers ~/recordings --collection research
      inlet search "ask not what your country can do for you" --collection research
      inlet show jfk_inaugural_excerpt.wav
      inlet errors --json
    """
    if home:
        os.environ["INLET_HOME"] = str(Path(home).expanduser().resolve())
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


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
        _emit_json(summary)
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


@main.command()
@click.argument("query")
@click.option("-c", "--collection", help="Only this collection (default: all).")
@click.option("-k", "--kind", type=click.Choice(["pdf", "text", "audio", "video"]))
@click.option("--source", help="Only this source id.")
@click.option(
    "-m",
    "--mode",
    type=click.Choice(["vector", "text", "hybrid"]),
    default="vector",
    show_default=True,
    help="By meaning, by keywords, or both.",
)
@click.option("-n", "--limit", type=click.IntRange(1, 1000), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def search(
    query: str,
    collection: str | None,
    kind: str | None,
    source: str | None,
    mode: str,
    limit: int,
    as_json: bool,
) -> None:
    """Search what was ingested; each hit comes with its citation.

    \b
    Example:
      inlet search "ask not what your country can do for you" --mode hybrid
    """
    import inlet

    hits = inlet.search(query, collection=collection, kind=kind, source=source, mode=mode, limit=limit)
    rows = hits.drop("collection").to_dicts() if as_json else hits.to_dicts()
    if as_json:
        _emit_json({"query": query, "mode": mode, "results": rows})
        return
    if not rows:
        click.echo("No results.")
        return
    for rank, hit in enumerate(rows, 1):
        click.echo(f"{rank}. {citation(hit)}  [score {hit['score']:.3f}]")
        click.echo(f"   {hit['snippet']}")


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
        _emit_json(shown)
        return
    click.echo(f"{shown['file']} ({shown['kind']}, source {shown['source_id'][:12]})")
    for segment in shown["segments"]:
        where = (
            f"p. {segment['page']}"
            if "page" in segment
            else f"{_clock(segment['start'])}-{_clock(segment['end'])}"
        )
        if segment.get("page") is None and "page" in segment:
            where = ""
        click.echo(f"[{where}] {segment['text']}" if where else segment["text"])


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
        _emit_json({"errors": [{k: r[k] for k in keep} for r in rows]})
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
        _emit_json(totals)
        return
    click.echo(f"home: {totals['home']}")
    click.echo(
        f"sources: {totals['sources']}   chunks: {totals['chunks']}   jobs: {totals['jobs']}   errors: {totals['errors']}"
    )
    for name, c in totals["collections"].items():
        click.echo(f"  {name}: {c['sources']} sources, {c['chunks']} chunks")


@main.command()
@click.option("--port", type=int, default=8501, show_default=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; keep 127.0.0.1 unless others must reach it.",
)
def dashboard(port: int, host: str) -> None:
    """Open the Streamlit dashboard (upload, search, statistics)."""
    app = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    command = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", host, "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
    ]  # fmt: skip
    click.echo(f"inlet dashboard on http://{host}:{port}  (Ctrl-C to stop)")
    sys.exit(subprocess.call(command))


if __name__ == "__main__":
    main()
