"""``inlet search`` (and ``--suggest``) and ``inlet reindex``.

``inlet search`` asks the home's local worker first (``flows.query_socket``): it has the store
and the query encoder loaded, so the answer comes in a fraction of a second instead of the 2-3
s a new process spends loading them. With no worker up it searches in this process; the
output is the same either way.
"""

from __future__ import annotations

from typing import Any

import click

from inlet.cli.app import emit_json, main
from inlet.records import KINDS
from pipelines.search_modes import DEFAULT_MODE, MODES


@main.command()
@click.argument("query")
@click.option("-c", "--collection", help="Only this collection (default: all).")
@click.option("-k", "--kind", type=click.Choice(KINDS), multiple=True,
              help="Only these kinds of source (repeatable).")  # fmt: skip
@click.option("--source", help="Only this source id.")
@click.option("-f", "--file", "file_", help="Only this file name, e.g. report.pdf.")
@click.option("--since", help="Only sources ingested on or after this date (YYYY-MM-DD or ISO time).")
@click.option("--until", help="Only sources ingested on or before this date (YYYY-MM-DD or ISO time).")
@click.option("--language", help="Only text in this language (e.g. en; each stretch of speech has its own).")
@click.option("--category", help="Only sources of this category (a label of their collection).")
@click.option("--keyword", help="Only sources with this keyword (whole words of a keyword phrase).")
@click.option(
    "-m",
    "--mode",
    type=click.Choice(MODES),
    default=DEFAULT_MODE,
    show_default=True,
    help="By meaning, by keywords, or both fused (best on the SciFact benchmark).",
)
@click.option("-n", "--limit", type=click.IntRange(1, 1000), default=5, show_default=True)
@click.option("--suggest", is_flag=True, help="Print completions of QUERY as a partial query instead.")
@click.option("--json", "as_json", is_flag=True)
def search(
    query: str,
    collection: str | None,
    kind: tuple[str, ...],
    source: str | None,
    file_: str | None,
    since: str | None,
    until: str | None,
    language: str | None,
    category: str | None,
    keyword: str | None,
    mode: str,
    limit: int,
    suggest: bool,
    as_json: bool,
) -> None:
    """Search what was ingested; each hit comes with its citation.

    In QUERY, "words in double quotes" are a phrase and -word excludes a word (text and
    hybrid modes); misspelt words still match.

    \b
    Examples:
      inlet search "ask not what your country can do for you"
      inlet search '"cruel and unusual" -bail' --mode text --kind pdf --since 2024-05-01
      inlet search "ocean acid" --suggest
      inlet search "protein folding" --category biology --keyword "cell membrane"
    """
    if suggest:
        import inlet

        words = inlet.suggest(query, collection=collection, limit=limit)
        if as_json:
            emit_json({"prefix": query, "suggestions": words})
        else:
            for word in words:
                click.echo(word)
        return
    rows = hits(
        query=query, collection=collection, kind=list(kind) or None, source=source, file=file_,
        since=since, until=until, language=language, category=category, keyword=keyword, mode=mode,
        limit=limit,
    )  # fmt: skip
    if as_json:
        results = [{k: v for k, v in row.items() if k != "collection"} for row in rows]
        emit_json({"query": query, "mode": mode, "results": results})
        return
    if not rows:
        click.echo("No results.")
        return
    for rank, hit in enumerate(rows, 1):
        click.echo(f"{rank}. {hit['citation']}  [score {hit['score']:.3f}]")
        about = "; ".join(filter(None, [hit["category"], ", ".join(hit["keywords"] or [])]))
        if about:
            click.echo(f"   ({about})")
        click.echo(f"   {hit['snippet']}")


def hits(**params: Any) -> list[dict[str, Any]]:
    """The hits of ``inlet.search(**params)`` as rows: the local worker's answer, or searched in
    this process when no worker answers (then the store and the model are loaded here)."""
    from flows.query_socket import Asker, search_in_worker

    rows = search_in_worker(Asker.here(), **params)
    if rows is None:
        import inlet

        rows = inlet.search(**params).to_dicts()
    return rows


@main.command()
@click.option("-c", "--collection", help="Check that this collection exists (the indexes span all).")
@click.option("--json", "as_json", is_flag=True)
def reindex(collection: str | None, as_json: bool) -> None:
    """Rebuild the full-text and vector indexes; searches keep answering meanwhile.

    \b
    Example:
      inlet reindex
    """
    import inlet

    report = inlet.reindex(collection)
    if as_json:
        emit_json(report)
        return
    ann = "an ANN vector index" if report["ann"] else "exact vector search (table below ann_min_rows)"
    click.echo(
        f"Reindexed {report['rows']} chunks in {report['seconds']:.1f} s: "
        f"{', '.join(report['rebuilt']) or 'nothing to rebuild'}; {ann}."
    )
