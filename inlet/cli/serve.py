"""``inlet serve``: the HTTP API."""

from __future__ import annotations

import click

from inlet.cli.app import main


@main.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; any other than loopback needs INLET_API_TOKEN.",
)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option(
    "--preload/--no-preload",
    default=True,
    show_default=True,
    help="Load the search model at start, so the first search does not wait for it.",
)
def serve(host: str, port: int, preload: bool) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs).

    Bound to 127.0.0.1 unless --host says otherwise; on any other address it refuses to start
    unless INLET_API_TOKEN is set, and then every request needs 'Authorization: Bearer <token>'.
    Rate limits (INLET_API_RATE_PER_MINUTE, INLET_API_UPLOADS_PER_MINUTE) are counted per
    process.

    \b
    Example:
      inlet serve --port 8000
      curl -F files=@talk.mp3 -F collection=research http://127.0.0.1:8000/v1/jobs
    """
    import uvicorn

    from inlet.api import check_bind, create_app
    from inlet.config import get_settings

    settings = get_settings()
    check_bind(host, settings)  # a ValueError: a usage error, exit status 2
    app = create_app(settings, preload=preload)
    click.echo(f"inlet API on http://{host}:{port}  (docs at /docs; Ctrl-C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False, server_header=False)
