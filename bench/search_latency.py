"""Search latency at scale: ``inlet.search`` per mode on a chunks table of N rows, beside raw
LanceDB on the same table.

It prints figures; it is not a test. In ONE run it measures:

* **inlet** (ms per query): wall time of ``inlet.search(query, mode=M, limit=10, **filters)``
  in this process, query embedding, retrieval, snippets, citations and the analytics row
  included, over the SciFact test queries (``--queries``, default all 300), after a warm-up of
  10 queries per mode and filter. Figures: p50, p95, mean. Filters: ``none``,
  ``collection`` (one of four collections: a quarter of the rows) and ``collection+kind`` (a
  twelfth of the rows).
* **embed** (ms per query): the part of it spent embedding the query (``encode_query`` of the
  same encoder inlet uses, timed alone over the same queries).
* **raw** (ms per query): LanceDB alone on the same table, with the query vector computed
  beforehand: ``table.search(vector).distance_type("cosine").limit(10)`` (cosine, as the index
  is trained for: another distance makes LanceDB skip the index and scan), full text
  ``table.search(query, query_type="fts", fts_columns="text").limit(10)``, hybrid
  ``table.search(query_type="hybrid").vector(v).text(query).limit(10)`` (LanceDB's default
  reranker, RRF); the same ``where`` predicate as inlet's for the filtered rows; results
  fetched with ``to_arrow()`` (all columns, as a user who writes no ``select`` gets them).
* **ratio** = inlet p50 / raw p50, and ``inlet - embed`` for the part inlet adds around LanceDB.

The table (built once per home; ``--keep HOME`` keeps it for the next run) has inlet's real
schema and indexes: rows are written by ``Store.write_sources`` (the engine's own writer, the
same merge as an ingest) and indexed by ``pipelines.search.refresh`` (both full-text indexes,
and the ANN vector index above ``Settings.ann_min_rows``, default 65,536 rows). How the rows
are made without embedding N chunks (which takes about an hour per 100,000 here):

* **text**: the 5,183 SciFact abstracts (``../shared/data/retrieval/scifact/corpus.jsonl``
  beside the checkout; CC BY-NC 2.0, for evaluation only), title and text, cut into pieces of
  about 140 words (inlet's default chunk of 200 tokens), about 9,000 distinct pieces. Each
  abstract is written again and again as a new source (its own source id, chunk ids, file
  name) until the table has N rows; the sources are spread over four collections and three
  kinds (``pdf`` with page numbers, ``text``, ``audio`` with time spans), so filters select a
  real share of the table and every kind of citation is made.
* **vectors**: the first ``--embedded`` pieces (default 1,500) are embedded once with inlet's
  embedder (its document vectors, cached in the home as ``bench-vectors-*.npy``); row ``i``
  takes the vector of piece ``i mod --embedded`` plus small Gaussian noise, normalised again
  (cosine about 0.95 to the original). Real vectors keep the clustered shape of real
  embeddings (which decides how an IVF index partitions them); noise keeps the copies from
  being identical. Vector search latency depends on the row count, the dimension (384) and
  the index, not on whether a vector matches its text, so these figures hold for a real table
  of N chunks; the hits themselves mean nothing.

Repeating the text makes every indexed word N / 9,000 times as frequent as in one SciFact
copy, so full-text posting lists are longer than a real corpus of N chunks would have: the
text figures are, if anything, pessimistic.

The machine may be shared: the 1-minute load average is printed before and after each table
of figures; read the raw LanceDB column beside inlet's, as both ran under the same load.

Run from the project folder:

    .venv/bin/python bench/search_latency.py                       # 100,000 rows: ~7 min to build
    .venv/bin/python bench/search_latency.py --rows 20000 --queries 50   # quick
    .venv/bin/python bench/search_latency.py --keep /tmp/lat100k   # keep the table; reuse it next time
    .venv/bin/python bench/search_latency.py --modes text --json   # last line is one JSON object

Measured build times on 2 shared cores (load 5-10): embedding the 1,500 pieces 3.7 min (once
per home), 100,000 rows written in 22 s and indexed in 2.7 min; 1,000,000 rows written in
13 min and indexed in 15 min.

Options: ``--rows N`` (default 100000), ``--queries M`` (default all 300 test queries),
``--modes vector,text,hybrid``, ``--embedded K``, ``--keep HOME``, ``--json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipelines.models import offline  # noqa: E402

offline()  # before sentence-transformers, transformers or Prefect are imported

import numpy as np  # noqa: E402

from pipelines.search import MODES  # noqa: E402  (the search stage owns its modes)

SCIFACT = ROOT.parent / "shared" / "data" / "retrieval" / "scifact"
COLLECTIONS = ("research", "reports", "archive", "notes")
KINDS = ("pdf", "text", "audio")
PIECE_WORDS = 140
FILTERS: dict[str, dict[str, str]] = {
    "none": {},
    "collection": {"collection": "research"},
    "collection+kind": {"collection": "research", "kind": "pdf"},
}
WARMUP = 10
BATCH_ROWS = 25_000


# --- the table ----------------------------------------------------------------------------
def pieces(path: Path = SCIFACT / "corpus.jsonl") -> list[tuple[str, list[str]]]:
    """Each abstract's id and its pieces of about :data:`PIECE_WORDS` words (title first)."""
    docs = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            words = f"{row['title'].strip()}\n\n{row['text'].strip()}".split(" ")
            n = max(1, round(len(words) / PIECE_WORDS))
            size = math.ceil(len(words) / n)
            docs.append((row["_id"], [" ".join(words[i : i + size]) for i in range(0, len(words), size)]))
    return docs


def base_vectors(home: Path, texts: list[str], settings: Any) -> tuple[np.ndarray, float]:
    """Document vectors of ``texts`` from inlet's embedder, cached in ``home``; (vectors, seconds)."""
    from pipelines.embed import load_embedder

    digest = hashlib.sha256("\0".join(texts).encode()).hexdigest()[:12]
    cached = home / f"bench-vectors-{len(texts)}-{digest}.npy"
    embedder = load_embedder(settings)
    if cached.exists():
        return np.load(cached), 0.0
    started = time.perf_counter()
    vectors = embedder.encode_documents(texts)
    seconds = time.perf_counter() - started
    np.save(cached, vectors)
    return vectors, seconds


def sources(n_rows: int, docs: list[tuple[str, list[str]]]) -> Iterator[tuple[int, str, list[str]]]:
    """(source number, abstract id, pieces) in order, until ``n_rows`` pieces in all."""
    total, number = 0, 0
    while True:
        for doc_id, parts in docs:
            parts = parts[: n_rows - total]
            yield number, doc_id, parts
            total += len(parts)
            number += 1
            if total >= n_rows:
                return


def build(settings: Any, n_rows: int, n_embedded: int, seed: int = 0) -> dict[str, Any]:
    """Write ``n_rows`` chunks through ``Store.write_sources`` and build the indexes."""
    from pipelines.records import Chunk, Extraction, Source
    from pipelines.search import refresh
    from pipelines.store import Store

    store = Store(settings)
    docs = pieces()
    flat = [p for _, parts in docs for p in parts]
    base, embed_s = base_vectors(settings.home, flat[:n_embedded], settings)
    dim = base.shape[1]
    rng = np.random.default_rng(seed)
    from pipelines.embed import load_embedder

    model, key = load_embedder(settings).name, settings.chunking_key()
    started = time.perf_counter()
    batches: dict[str, list[tuple[Any, list[Any], np.ndarray, list[str]]]] = {c: [] for c in COLLECTIONS}
    pending = {c: 0 for c in COLLECTIONS}
    row = 0
    written = 0

    def flush(collection: str) -> None:
        nonlocal written
        if batches[collection]:
            written += store.write_sources(
                collection=collection, items=batches[collection], model=model, chunking_key=key
            )
            batches[collection], pending[collection] = [], 0

    for number, doc_id, parts in sources(n_rows, docs):
        collection, kind = COLLECTIONS[number % 4], KINDS[(number // 4) % 3]
        source_id = hashlib.sha256(f"bench\0{number}\0{doc_id}".encode()).hexdigest()
        ext = {"pdf": "pdf", "text": "txt", "audio": "mp3"}[kind]
        name = f"{doc_id}-{number}.{ext}"
        source = Source(path=f"/bench/{collection}/{name}", source_id=source_id, kind=kind,  # type: ignore[arg-type]
                        size=sum(map(len, parts)), file=name)  # fmt: skip
        chunks = []
        for i, text in enumerate(parts):
            chunk = Chunk(chunk_id=hashlib.sha256(f"{source_id}\0{i}".encode()).hexdigest(),
                          source_id=source_id, index=i, text=text, n_tokens=len(text.split()))  # fmt: skip
            if kind == "pdf":
                chunk.page_start = chunk.page_end = i + 1
            elif kind == "audio":
                chunk.time_start, chunk.time_end = 60.0 * i, 60.0 * i + 58.5
            chunks.append(chunk)
        picks = (np.arange(row, row + len(parts))) % len(base)
        noisy = base[picks] + rng.normal(0.0, 0.3 / math.sqrt(dim), (len(parts), dim)).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        row += len(parts)
        batches[collection].append((Extraction(source=source, segments=[], language="en"), chunks, noisy, []))
        pending[collection] += len(parts)
        if pending[collection] >= BATCH_ROWS // 4:
            flush(collection)
    for collection in COLLECTIONS:
        flush(collection)
    write_s = time.perf_counter() - started
    report = refresh(store)
    store.optimize_sources()  # as after every job: the sources table's index of its key
    return {"rows": written, "distinct_pieces": len(flat), "embedded": len(base), "embed_s": embed_s,
            "write_s": write_s, "index_s": report["seconds"], "ann": report["ann"]}  # fmt: skip


# --- timing -------------------------------------------------------------------------------
def load_queries(n: int | None) -> list[str]:
    test = set()
    with (SCIFACT / "qrels" / "test.tsv").open(encoding="utf-8") as fh:
        next(fh)
        test = {line.split("\t", 1)[0] for line in fh}
    out = []
    with (SCIFACT / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["_id"] in test:
                out.append(row["text"])
    return out[:n] if n else out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def timed(call: Callable[[int], object], n: int) -> dict[str, float]:
    """p50/p95/mean milliseconds of ``call(i)`` for i in range(n), after a warm-up."""
    for i in range(min(WARMUP, n)):
        call(i)
    ms = []
    for i in range(n):
        started = time.perf_counter()
        call(i)
        ms.append((time.perf_counter() - started) * 1000)
    return {"p50": percentile(ms, 50), "p95": percentile(ms, 95), "mean": statistics.fmean(ms)}


def load1() -> float:
    return os.getloadavg()[0]


def measure(settings: Any, queries: list[str], modes: tuple[str, ...]) -> dict[str, Any]:
    """inlet and raw LanceDB figures per mode and filter; the embedding time per query."""
    import inlet
    from pipelines.embed import load_query_encoder
    from pipelines.search import predicate
    from pipelines.store import Store

    encoder = load_query_encoder(settings)
    vectors = [encoder.encode_query(q) for q in queries]
    embed = timed(lambda i: encoder.encode_query(queries[i]), len(queries))
    table: Any = Store(settings).chunks()
    assert table is not None
    indexes = {i.name: str(i.index_type) for i in table.list_indices()}

    def raw(mode: str, where_: str | None) -> Callable[[int], object]:
        def run(i: int) -> object:
            if mode == "vector":
                q: Any = table.search(vectors[i]).distance_type("cosine")
            elif mode == "text":
                q = table.search(queries[i], query_type="fts", fts_columns="text")
            else:
                q = table.search(query_type="hybrid", fts_columns="text").vector(vectors[i]).text(queries[i])
            if where_:
                q = q.where(where_, prefilter=True)
            return q.limit(10).to_arrow()

        return run

    def facade(mode: str, filters: dict[str, str]) -> Callable[[int], object]:
        # as a user calls it: settings from the environment (INLET_HOME), nothing cached by the caller
        return lambda i: inlet.search(queries[i], mode=mode, limit=10, **filters)  # type: ignore[arg-type]

    results: dict[str, Any] = {}
    for mode in modes:
        for label, filters in FILTERS.items():
            load_before = load1()
            ours = timed(facade(mode, filters), len(queries))
            theirs = timed(raw(mode, predicate(**filters)), len(queries))
            results[f"{mode}/{label}"] = {"mode": mode, "filter": label, "inlet": ours, "raw": theirs,
                                          "ratio_p50": ours["p50"] / theirs["p50"],
                                          "load1": [load_before, load1()]}  # fmt: skip
    return {"embed": embed, "indexes": indexes, "rows": int(table.count_rows()), "results": results}


def report(figures: dict[str, Any], build_info: dict[str, Any] | None) -> str:
    lines = [f"chunks table: {figures['rows']:,} rows; indexes: {figures['indexes']}"]
    if build_info:
        lines.append(f"built: {build_info}")
    e = figures["embed"]
    lines += [
        f"queries: {figures['queries']} SciFact test queries; query embedding alone: "
        f"p50 {e['p50']:.1f} ms, p95 {e['p95']:.1f} ms",
        "",
        f"{'mode':<8} {'filter':<16} {'inlet p50':>9} {'p95':>7} {'mean':>7} | {'raw p50':>7} {'p95':>7} "
        f"{'mean':>7} | {'ratio':>5} {'inlet-embed':>11} | load1",
    ]
    for r in figures["results"].values():
        i, w = r["inlet"], r["raw"]
        lines.append(
            f"{r['mode']:<8} {r['filter']:<16} {i['p50']:>9.1f} {i['p95']:>7.1f} {i['mean']:>7.1f} | "
            f"{w['p50']:>7.1f} {w['p95']:>7.1f} {w['mean']:>7.1f} | {r['ratio_p50']:>5.1f} "
            f"{i['p50'] - (e['p50'] if r['mode'] != 'text' else 0):>11.1f} | "
            f"{r['load1'][0]:.2f}->{r['load1'][1]:.2f}"
        )
    lines.append("(ms; inlet includes embedding the query in vector and hybrid mode, raw does not)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="chunks in the table (default 100000)")
    parser.add_argument("--queries", type=int, default=None, help="first M test queries (default: all 300)")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes")
    parser.add_argument("--embedded", type=int, default=1500, help="distinct pieces embedded for real")
    parser.add_argument("--keep", type=Path, default=None, help="inlet home to build in and keep (reused)")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args(argv)

    temp = None
    if args.keep is None:
        temp = Path(tempfile.mkdtemp(prefix="inlet-search-latency-"))
        home = temp / "home"
    else:
        home = args.keep.expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["INLET_HOME"] = str(home)
    try:
        from pipelines.config import get_settings
        from pipelines.store import Store

        settings = get_settings(home=home)
        existing = Store(settings).count_chunks()
        build_info = None
        if existing and existing != args.rows:
            raise SystemExit(f"{home} holds {existing} chunks, not {args.rows}; use another --keep folder")
        if not existing:
            build_info = build(settings, args.rows, args.embedded)
        else:
            Store(settings).optimize_sources()  # a table kept from before that index: build it
        modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
        queries = load_queries(args.queries)
        figures = measure(settings, queries, modes)
        figures["queries"] = len(queries)
        print(report(figures, build_info))
        if args.json:
            print(json.dumps({**figures, "build": build_info}))
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
