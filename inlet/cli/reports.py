"""``inlet jobs``, ``inlet errors``, ``inlet stats``, ``inlet export``: reports over the analytics."""

from __future__ import annotations

from typing import Any

import click

from inlet.cli.app import emit_json, main
from pipelines.formats import clock, printable

JOB_KEYS = [
    "job_id", "status", "priority", "collection", "progress", "eta_s", "submitted_at", "started_at",
    "finished_at", "sources", "failed", "unchanged", "retries", "chunks_written", "flow_run_id", "stuck",
    "requeues", "workers",
]  # fmt: skip
STAGE_KEYS = ["stage", "ended", "failed", "failure_rate", "mean_s", "p50_s", "p95_s", "max_s",
              "peak_mb_p50", "peak_mb_max"]  # fmt: skip
"""Columns of ``inlet stats``' stage table: timings and peak memory (throughput comes after)."""
ERROR_KEYS = [
    "class", "message", "hint", "retryable", "file", "path", "stage", "job_id", "at", "source_id",
    "kind", "attempt", "traceback",
]  # fmt: skip


def _since_option(fn: Any) -> Any:
    return click.option("--since", help="Only what happened since: 24h, 7d, 30m or an ISO date.")(fn)


@main.command()
@click.argument("job_id", required=False)
@click.option("--status", multiple=True, help="Only jobs with this status (repeatable): queued, running, ...")
@click.option("-c", "--collection", help="Only jobs of this collection.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def jobs(
    job_id: str | None, status: tuple[str, ...], collection: str | None, limit: int, as_json: bool
) -> None:
    """List jobs with their progress and ETA; with JOB_ID, the files of that job.

    \b
    Examples:
      inlet jobs --status running
      inlet jobs 3f2a9c0d1e2b --json
    """
    if job_id:
        files = _report("job_sources", job_id=job_id)
        if as_json:
            emit_json({"job_id": job_id, "sources": files})
            return
        if not files:
            _no_files(job_id)
        for f in files:
            worker = f", {f['worker']}" if f["worker"] else ""
            click.echo(
                f"{f['status']:>10}  {f['progress'] * 100:5.1f}%  {printable(f['file'] or '')}  ({f['kind']}, {f['stage']}{worker})"
            )
            if f["error_class"]:
                click.echo(
                    f"            {f['error_class']}: {printable(f['error_message'] or '')}\n            hint: {f['error_hint']}"
                )
        return
    rows = _report("jobs", status=list(status) or None, collection=collection, limit=limit)
    if as_json:
        emit_json({"jobs": [{k: r[k] for k in JOB_KEYS} for r in rows]})
        return
    if not rows:
        click.echo("No jobs recorded.")
    for r in rows:
        eta = "" if r["eta_s"] in (None, 0.0) else f"  eta {clock(r['eta_s'])}"
        stuck = "  STUCK" if r["stuck"] else ""
        stuck += f"  requeued {r['requeues']}x (stuck)" if r["requeues"] else ""
        when = f"{r['submitted_at']:%Y-%m-%d %H:%M}" if r["submitted_at"] else "?"
        click.echo(
            f"{r['job_id']}  {r['status']:<16} {r['progress'] * 100:5.1f}%{eta}  {when}  "
            f"{r['collection']}  {r['sources']} sources, {r['failed']} failed  [{r['priority']}]{stuck}"
        )


def _no_files(job_id: str) -> None:
    """A job without a file: whether it exists, its status, and the error that stopped it
    before any file (the store out of reach, say)."""
    found = _report("jobs", job_id=job_id, limit=1)
    if not found:
        click.echo(f"No job {job_id} recorded.")
        return
    click.echo(f"Job {job_id}: {found[0]['status']}, no file recorded.")
    if found[0]["status"] in ("failed", "partially_failed"):
        import polars as pl

        import inlet

        own = inlet.errors(job_id).filter(pl.col("source_id").is_null() & pl.col("file").is_null())
        for e in own.to_dicts():
            click.echo(f"    {e['class']}: {printable(e['message'] or '')}\n    hint: {e['hint']}")


def _report(name: str, **args: Any) -> list[dict[str, Any]]:
    """``inlet.jobs`` / ``inlet.job_sources`` as rows: the local worker's answer (it has the
    analytics reader loaded), or read in this process when no worker answers."""
    from flows.query_socket import Asker, report_in_worker

    rows = report_in_worker(Asker.here(), name, **args)
    if rows is None:
        import inlet

        rows = (inlet.jobs(**args) if name == "jobs" else inlet.job_sources(**args)).to_dicts()
    return list(rows)


@main.command()
@click.option("--job", "job_id", help="Only the errors of this job.")
@click.option("--class", "error_class", help="Only errors of this class (e.g. damaged_pdf).")
@click.option("-c", "--collection", help="Only errors of this collection.")
@_since_option
@click.option("--limit", type=int, default=1000, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def errors(
    job_id: str | None,
    error_class: str | None,
    collection: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List recorded failures with their class, message and recovery hint."""
    import inlet

    rows = inlet.errors(
        job_id, error_class=error_class, collection=collection, since=since, limit=limit
    ).to_dicts()
    if as_json:
        emit_json({"errors": [{k: r[k] for k in ERROR_KEYS} for r in rows]})
        return
    if not rows:
        click.echo("No errors recorded.")
    for r in rows:
        click.echo(
            f"{r['at']:%Y-%m-%d %H:%M}  {r['class']:<18} {printable(r['file'] or '')}  (job {r['job_id']}, {r['stage']})"
        )
        click.echo(f"    {printable(r['message'] or '')}\n    hint: {r['hint']}")


@main.command()
@_since_option
@click.option("-c", "--collection", help="Only this collection's events, errors and searches.")
@click.option("--json", "as_json", is_flag=True)
def stats(since: str | None, collection: str | None, as_json: bool) -> None:
    """Totals in the store, outcome rates, stage timings and peak memory, throughput, retries,
    queue, health and the circuit breakers of the models and the store."""
    import inlet

    totals = inlet.stats(since=since, collection=collection)
    if as_json:
        emit_json(totals.to_json())
        return
    click.echo(f"home: {totals['home']}")
    click.echo(
        f"sources: {totals['sources']}   chunks: {totals['chunks']}   jobs: {totals['jobs']}   "
        f"errors: {totals['errors']}"
    )
    for name, c in totals["collections"].items():
        model = f", embedding model {c['model']}" if c.get("model") else ""
        click.echo(f"  {name}: {c['sources']} sources, {c['chunks']} chunks{model}")
    health = totals["health"]
    click.echo(
        f"health: {health['running']} running, {health['queued']} queued, {health['stuck']} stuck, "
        f"{health['errors_24h']} errors in 24 h, last success {health['last_success_at'] or 'never'}"
    )
    click.echo("breakers: " + ", ".join(_breaker(b) for b in totals["breakers"]))
    stages = totals["stages"]
    tables = {
        "by kind": totals["by_kind"],
        "stages (seconds, peak memory in MB)": stages.select([c for c in STAGE_KEYS if c in stages.columns]),
        "stage throughput": stages.select(
            [c for c in stages.columns if c == "stage" or c.endswith("_per_s") or c == "total_s"]
        ),
        "queue": totals["queue"],
        "searches": totals["searches"],
    }
    for title, frame in tables.items():
        if frame.height:
            click.echo(f"\n{title}:")
            with _table_format():
                click.echo(str(frame))
    r = totals["retries"]
    click.echo(f"\nretries: {r['retries']} ({r['retried']} stages retried, {r['recovered']} then succeeded)")


def _breaker(row: dict[str, Any]) -> str:
    """``store open (3 failures, store_unavailable)``, or ``embedder closed``."""
    if row["state"] == "closed":
        return f"{row['dependency']} closed"
    return f"{row['dependency']} {row['state'].upper()} ({row['failures']} failures, {row['error_class']})"


def _table_format() -> Any:
    import polars as pl

    return pl.Config(
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        tbl_rows=50,
        tbl_cols=20,
        fmt_float="mixed",
        tbl_width_chars=140,
    )


@main.command()
@click.argument("folder", type=click.Path(file_okay=False))
@click.option(
    "--format", "fmt", type=click.Choice(["parquet", "csv", "markdown"]), default="parquet", show_default=True
)
@click.option("--table", "tables", multiple=True, type=click.Choice(["jobs", "errors", "collections", "sources"]),
              help="What to export (repeatable; default all four).")  # fmt: skip
@_since_option
@click.option("-c", "--collection", help="Only this collection.")
@click.option("--json", "as_json", is_flag=True)
def export(
    folder: str, fmt: str, tables: tuple[str, ...], since: str | None, collection: str | None, as_json: bool
) -> None:
    """Export jobs, errors, a per-collection summary and the sources (with their keywords,
    summary and category) to FOLDER (Parquet, CSV or Markdown).

    \b
    Example:
      inlet export reports --format markdown --since 7d
    """
    import inlet

    written = inlet.export(
        folder, format=fmt, tables=tables or ("jobs", "errors", "collections", "sources"),
        since=since, collection=collection,
    )  # fmt: skip
    if as_json:
        emit_json({"files": {k: str(v) for k, v in written.items()}})
        return
    for name, path in written.items():
        click.echo(f"{name}: {path}")
