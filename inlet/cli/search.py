"""``inlet search``."""

from __future__ import annotations

import click

from inlet.cli import citation, emit_json, main


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
        emit_json({"query": query, "mode": mode, "results": rows})
        return
    if not rows:
        click.echo("No results.")
        return
    for rank, hit in enumerate(rows, 1):
        click.echo(f"{rank}. {citation(hit)}  [score {hit['score']:.3f}]")
        click.echo(f"   {hit['snippet']}")
