"""Search quality on BEIR SciFact: nDCG@10 and recall@100 per mode, next to published figures.

It prints figures; it is not a test (``tests/bench/test_search_eval.py`` runs it on a slice and
checks the figures stay above a measured floor).

What it does, in one run:

1. **Corpus.** SciFact (``../shared/data/retrieval/scifact`` beside the checkout; CC BY-NC 2.0, for evaluation
   only) is written one ``<doc id>.txt`` per abstract (title, blank line, text) into
   ``<home>/scifact-corpus``, never into the repository. A slice (``--queries M --docs N``) takes
   the first M test queries, every abstract judged relevant to them, and the first abstracts of
   the corpus until there are N; the full run (the default) takes all 5,183 abstracts and all
   300 test queries.
2. **Ingest** through the real pipeline: ``inlet.ingest(folder, collection="scifact")`` (the
   Prefect flow: validate, extract, chunk, embed, write, index refresh), default settings
   (chunks of 200 tokens with 32 of overlap, so a long abstract becomes two or three chunks).
   An already ingested home (``--home DIR``) is reused: unchanged files do no work.
3. **Search** each test query with ``inlet.search(query, mode=M, collection="scifact",
   limit=--depth)`` for every mode. Hits are chunks; the file name of a hit is its document id,
   and a document takes the rank of its best chunk (the usual max-passage rule), so the
   ``--depth`` (default 300) chunk hits give the top 100 documents.
4. **Score** with the standard definitions (as pytrec_eval / BEIR): nDCG@10 with the graded
   qrels as gains (all 1 in SciFact) and log2 discounts, recall@100 = relevant documents in the
   top 100 / relevant documents; means over the queries. Latency is the wall time of each
   ``inlet.search`` call (query embedding, search, snippets and the analytics row included),
   p50 and p95 per mode.

Published figures beside them (SciFact test, 300 queries): all-MiniLM-L6-v2, exact cosine over
``title + " " + text`` truncated to 256 tokens, nDCG@10 0.64508, recall@100 0.925 (MTEB paper,
``../shared/data/retrieval/published``); BM25 (Anserini, flat index) nDCG@10 0.6789, recall@100
0.9253.

Run from the project folder:

    .venv/bin/python bench/search_eval.py                         # full: ~6 min ingest on 2 cores
    .venv/bin/python bench/search_eval.py --queries 40 --docs 400 # a slice, ~1 min
    .venv/bin/python bench/search_eval.py --home /tmp/scifact      # keep (and reuse) the home
    .venv/bin/python bench/search_eval.py --json                   # last line is one JSON object
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipelines.models import offline  # noqa: E402

offline()  # before sentence-transformers, transformers or Prefect are imported

from pipelines.search import MODES  # noqa: E402  (the search stage owns its modes)

SCIFACT = ROOT.parent / "shared" / "data" / "retrieval" / "scifact"
COLLECTION = "scifact"
PUBLISHED = {
    "all-MiniLM-L6-v2 (MTEB)": {"ndcg@10": 0.64508, "recall@100": 0.925},
    "BM25 (Anserini, flat)": {"ndcg@10": 0.6789, "recall@100": 0.9253},
}


# --- data ---------------------------------------------------------------------------------
@dataclass
class Benchmark:
    """The queries and judgements of the evaluation, and the abstracts to ingest."""

    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    docs: dict[str, tuple[str, str]] = field(repr=False)


def load(data: Path = SCIFACT, n_queries: int | None = None, n_docs: int | None = None) -> Benchmark:
    """SciFact's test queries (the first ``n_queries``), their judgements, and the abstracts:
    every judged one plus the corpus's first ones up to ``n_docs`` (all when ``None``)."""
    qrels: dict[str, dict[str, int]] = {}
    with (data / "qrels" / "test.tsv").open(encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            qid, did, score = line.rstrip("\n").split("\t")
            qrels.setdefault(qid, {})[did] = int(score)
    qids = sorted(qrels, key=int)[:n_queries] if n_queries else sorted(qrels, key=int)
    qrels = {q: qrels[q] for q in qids}
    queries: dict[str, str] = {}
    with (data / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["_id"] in qrels:
                queries[row["_id"]] = row["text"]
    judged = {d for rel in qrels.values() for d in rel}
    docs: dict[str, tuple[str, str]] = {}
    fill = n_docs if n_docs is not None else math.inf
    with (data / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["_id"] in judged or len(docs) < fill - len(judged - docs.keys()):
                docs[row["_id"]] = (row["title"].strip(), row["text"].strip())
    return Benchmark(queries=queries, qrels=qrels, docs=docs)


def write_corpus(bench: Benchmark, folder: Path) -> Path:
    """One ``<doc id>.txt`` per abstract (title, blank line, text); files already there stay."""
    folder.mkdir(parents=True, exist_ok=True)
    for doc_id, (title, text) in bench.docs.items():
        path = folder / f"{doc_id}.txt"
        body = f"{title}\n\n{text}\n"
        if not path.exists() or path.read_text(encoding="utf-8") != body:
            path.write_text(body, encoding="utf-8")
    return folder


# --- metrics ------------------------------------------------------------------------------
def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    """nDCG@k with the judgement as gain and a log2 discount (as pytrec_eval's ``ndcg_cut``)."""
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], relevant: dict[str, int], k: int = 100) -> float:
    hits = {d for d in ranked[:k] if relevant.get(d, 0) > 0}
    wanted = [d for d, g in relevant.items() if g > 0]
    return len(hits) / len(wanted) if wanted else 0.0


def doc_ranking(files: list[str]) -> list[str]:
    """Documents in the order of their best chunk (file ``<doc id>.txt`` -> ``<doc id>``)."""
    seen: dict[str, None] = {}
    for name in files:
        seen.setdefault(name.rsplit(".", 1)[0], None)
    return list(seen)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


# --- the run ------------------------------------------------------------------------------
def ingest(bench: Benchmark, home: Path) -> dict[str, Any]:
    """Write the abstracts under ``home`` and ingest them through the real pipeline."""
    import inlet

    folder = write_corpus(bench, home / "scifact-corpus")
    started = time.perf_counter()
    job = inlet.ingest([str(folder)], collection=COLLECTION, home=str(home))
    seconds = time.perf_counter() - started
    statuses: dict[str, int] = {}
    for source in job["sources"]:
        statuses[source["status"]] = statuses.get(source["status"], 0) + 1
    return {
        "status": job["status"],
        "sources": statuses,
        "chunks_written": job["chunks_written"],
        "seconds": seconds,
    }


def evaluate(
    bench: Benchmark, home: Path, modes: tuple[str, ...] = MODES, depth: int = 300
) -> dict[str, dict[str, Any]]:
    """nDCG@10, recall@100 and latency percentiles per mode over the benchmark's queries.

    Each mode also keeps its queries' nDCG@10 in query order (``"ndcg@10 per query"``) so
    that two modes can be compared query by query.
    """
    import inlet

    inlet.search("warm up the embedder", mode="vector", collection=COLLECTION, limit=1, home=str(home))
    results: dict[str, dict[str, float]] = {}
    for mode in modes:
        ndcgs, recalls, latencies = [], [], []
        for qid, query in bench.queries.items():
            started = time.perf_counter()
            hits = inlet.search(query, mode=mode, collection=COLLECTION, limit=depth, home=str(home))
            latencies.append((time.perf_counter() - started) * 1000)
            ranked = doc_ranking(hits["file"].to_list())
            ndcgs.append(ndcg_at(ranked, bench.qrels[qid], 10))
            recalls.append(recall_at(ranked, bench.qrels[qid], 100))
        results[mode] = {
            "ndcg@10": statistics.fmean(ndcgs),
            "recall@100": statistics.fmean(recalls),
            "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95),
            "queries": len(ndcgs),
            "ndcg@10 per query": ndcgs,
        }
    return results


def report(results: dict[str, dict[str, float]], bench: Benchmark, info: dict[str, Any]) -> str:
    lines = [
        f"SciFact test: {len(bench.queries)} queries, {len(bench.docs)} abstracts, "
        f"{info.get('chunks', '?')} chunks (ingest: {info.get('ingest', {})})",
        "",
        f"{'mode':<28} {'nDCG@10':>8} {'R@100':>7} {'p50 ms':>8} {'p95 ms':>8}",
    ]
    for mode, r in results.items():
        lines.append(
            f"inlet {mode:<22} {r['ndcg@10']:>8.4f} {r['recall@100']:>7.4f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f}"
        )
    for name, figures in PUBLISHED.items():
        lines.append(f"{'published ' + name:<28} {figures['ndcg@10']:>8.4f} {figures['recall@100']:>7.4f}")
    if len(bench.docs) < 5183:
        lines.append("(a slice: figures are not comparable with the published ones, which use all 5,183)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=None, help="first M test queries (default: all 300)")
    parser.add_argument("--docs", type=int, default=None, help="at least N abstracts (default: all)")
    parser.add_argument("--home", type=Path, default=None, help="inlet home to use and keep (default: temp)")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes")
    parser.add_argument("--depth", type=int, default=300, help="chunk hits asked per query")
    parser.add_argument("--no-ingest", action="store_true", help="search the --home as it is, ingest nothing")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args(argv)

    temp = None
    if args.home is None:
        temp = Path(tempfile.mkdtemp(prefix="inlet-search-eval-"))
        home = temp / "home"
    else:
        home = args.home.expanduser().resolve()
    os.environ["INLET_HOME"] = str(home)  # before flows is imported: Prefect's state goes there
    try:
        bench = load(n_queries=args.queries, n_docs=args.docs)
        info: dict[str, Any] = {"ingest": "skipped" if args.no_ingest else ingest(bench, home)}
        from pipelines.config import get_settings
        from pipelines.store import Store

        info["chunks"] = Store(get_settings(home=home)).count_chunks(COLLECTION)
        modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
        results = evaluate(bench, home, modes, depth=args.depth)
        print(report(results, bench, info))
        if args.json:
            print(json.dumps({"results": results, "published": PUBLISHED, **info,
                              "queries": len(bench.queries), "docs": len(bench.docs)}))  # fmt: skip
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
