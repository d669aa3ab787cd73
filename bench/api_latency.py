"""Latency of the HTTP API under concurrent clients: ``GET /v1/jobs/{id}`` (the endpoint apps
poll every two seconds) and ``GET /v1/search``, each hit by ``--clients`` threads at once.

It prints figures; it is not a test. One run:

1. starts a real ``inlet serve`` (a subprocess on a free loopback port, its own temporary home,
   the search model preloaded), with the samples and ``--scifact`` SciFact abstracts (one
   Markdown file each, from ``../shared/data/retrieval/scifact``) under ``INLET_API_ROOTS``;
2. queues them as one job with ``POST /v1/jobs {"paths": [...]}`` and waits for it;
3. for each endpoint: ``--clients`` threads, each with its own HTTP connection, first send 5
   warm-up requests, then wait for the others and send ``--requests`` requests back to back;
   the wall time of each request (connection reused, response read whole) is kept.
   ``/v1/jobs/{id}`` asks for the finished job above (its state is a query over its events);
   ``/v1/search`` sends the SciFact test claims in turn, ``mode=hybrid&limit=5``.

Figures per endpoint: p50, p95, mean and max in ms, and requests per second over the run. The
1-minute load average is printed before and after (the machine may be shared).

    .venv/bin/python bench/api_latency.py                    # 20 clients x 50 requests
    .venv/bin/python bench/api_latency.py --clients 20 --requests 100 --scifact 1000
    .venv/bin/python bench/api_latency.py --keep /tmp/api-bench         # ingest once, measure again later
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.api.server import serving, wait_for_job  # noqa: E402

SCIFACT = REPO.parent / "shared" / "data" / "retrieval" / "scifact"


def corpus(folder: Path, n: int) -> list[str]:
    """``n`` SciFact abstracts as Markdown files in ``folder``; the test claims, as queries."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(SCIFACT / "corpus.jsonl") as f:
        for line in itertools.islice(f, n):
            doc = json.loads(line)
            (folder / f"scifact-{doc['_id']}.md").write_text(f"# {doc['title']}\n\n{doc['text']}\n")
    with open(SCIFACT / "queries.jsonl") as f:
        return [json.loads(line)["text"] for line in f][:300]


def hammer(
    url: str, headers: dict[str, str], paths: list[str], clients: int, requests: int
) -> tuple[list[float], float]:
    """Latencies in ms of ``clients`` threads each sending ``requests`` GETs (paths in turn)."""
    latencies: list[float] = []
    lock = threading.Lock()
    ready = threading.Barrier(clients + 1)
    failures: list[str] = []

    def client(k: int) -> None:
        mine = []
        with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
            for i in range(5):
                http.get(paths[(k + i) % len(paths)])
            ready.wait()
            for i in range(requests):
                path = paths[(k * requests + i) % len(paths)]
                started = time.perf_counter()
                response = http.get(path)
                response.read()
                mine.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    failures.append(f"{path}: {response.status_code} {response.text[:200]}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return latencies, wall


def figures(name: str, latencies: list[float], wall: float) -> dict[str, float | str]:
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "endpoint": name, "requests": len(latencies), "p50_ms": round(cuts[49], 1), "p95_ms": round(cuts[94], 1),
        "mean_ms": round(statistics.fmean(latencies), 1), "max_ms": round(max(latencies), 1),
        "per_s": round(len(latencies) / wall, 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=50, help="requests per client and endpoint")
    parser.add_argument(
        "--scifact", type=int, default=300, help="SciFact abstracts ingested beside the samples"
    )
    parser.add_argument(
        "--keep", metavar="DIR", help="keep the home and files in DIR; a later run reuses them"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="inlet-api-bench-"))
    docs = base / "docs"
    ingested = (base / "home").is_dir()
    queries = corpus(docs / "scifact", args.scifact)
    if not ingested:
        shutil.copytree(REPO / "samples" / "corpus", docs / "samples", dirs_exist_ok=True)
    token = "bench-" + os.urandom(8).hex()
    settings = {
        "INLET_API_TOKEN": token, "INLET_API_ROOTS": json.dumps([str(docs)]),
        "INLET_API_RATE_PER_MINUTE": "1000000",
    }  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"}
    with serving(base / "home", **settings) as url:
        with httpx.Client(base_url=url, headers=headers, timeout=600) as http:
            started = time.perf_counter()
            if ingested:  # kept from an earlier run (--keep): its job
                job = http.get("/v1/jobs", params={"collection": "bench", "limit": 1}).json()["jobs"][0]
            else:
                answer = http.post("/v1/jobs", json={"paths": [str(docs)], "collection": "bench"})
                job = answer.raise_for_status().json()
            done = wait_for_job(http, job["job_id"], timeout_s=3600)
            chunks = sum(c["chunks"] for c in http.get("/v1/collections").json()["collections"])
            print(f"ingested {done['counts']['sources']} files ({chunks} chunks) in {time.perf_counter() - started:.0f} s: "
                  f"{done['status']}", flush=True)  # fmt: skip
        rows = []
        for name, paths in (
            ("GET /v1/jobs/{id}", [f"/v1/jobs/{job['job_id']}"]),
            ("GET /v1/search", [f"/v1/search?{httpx.QueryParams({'q': q, 'mode': 'hybrid', 'limit': 5})}" for q in queries]),
        ):  # fmt: skip
            load = os.getloadavg()[0]
            latencies, wall = hammer(url, headers, paths, args.clients, args.requests)
            row = figures(name, latencies, wall) | {
                "load_before": round(load, 2),
                "load_after": round(os.getloadavg()[0], 2),
            }
            rows.append(row)
            print(f"{name:<20} {args.clients} clients x {args.requests}: p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, "
                  f"mean {row['mean_ms']} ms, max {row['max_ms']} ms, {row['per_s']} req/s "
                  f"(load {row['load_before']} -> {row['load_after']})", flush=True)  # fmt: skip
    if args.json:
        print(
            json.dumps(
                {"clients": args.clients, "requests": args.requests, "chunks": chunks, "endpoints": rows}
            )
        )


if __name__ == "__main__":
    main()
