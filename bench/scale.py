"""Scale-out benchmark: files per minute of one job with one and with two ``inlet worker``s.

It prints figures; it is not a test. A real ``prefect server`` on 127.0.0.1 (SQLite under a
temporary ``PREFECT_HOME``) and named workers (``inlet worker --name w1 ...``) on one home folder
(the shared-filesystem set-up of several machines). For each worker count, a fresh home and the
same job: ``--docs`` SciFact abstracts, one ``.txt`` each, submitted with ``part_size`` =
``--part-size`` so the job is split into parts that the workers share (``flows.parts``). The
figure is the job's own: ``submitted_at`` to ``finished_at`` as inlet recorded them, so worker
start-up and model loading (done before the job is submitted) are not in it. The workers are
started, and online, before the job.

``--store`` runs the set-up of several machines that share nothing on disk: an S3 server on
loopback (moto, as the tests start it: ``tests/s3_server.py``), a new bucket for each worker
count (``INLET_STORE``), each worker on a home of its own and the job submitted from a third
home. The submitter first stages the job's local files to the store
(``pipelines.staging.stage``), and the bench prints what that cost: files, files sent, bytes
and seconds, and the seconds of staging the same files again (all already there: each is hashed
and looked up, none sent). The job's figure starts after its staging.

On a machine of 2 shared cores two workers compete for the same cores: the ratio says what
splitting a job costs (part runs, index refreshes, two processes' models) more than what a
second machine would give. Run it on two hosts for the speed-up.

``--dask`` measures apart, in this process, whether Prefect's Dask task runner (``prefect-dask``,
not a dependency of inlet) speeds up a flow's embedding batches here: one flow embeds
``--dask-batches`` batches of chunks as tasks, with the default thread pool of ``task_workers``
threads, then with a ``DaskTaskRunner`` of 2 worker processes of one thread each; each timing
excludes the first run (model loads in the Dask workers).

Run from the project folder:

    .venv/bin/python bench/scale.py                      # 1 and 2 workers, 120 files: ~5 min
    .venv/bin/python bench/scale.py --docs 60 --part-size 10
    .venv/bin/python bench/scale.py --store --docs 40 --part-size 10
    .venv/bin/python bench/scale.py --skip-workers --dask

Everything lives in a temporary folder removed at exit.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO))
from flows.local_server import free_port  # noqa: E402 - the checkout's own, for a bench run from anywhere

SCIFACT = REPO.parent / "shared" / "data" / "retrieval" / "scifact" / "corpus.jsonl"


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT first, then kill; only the processes this script started."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def start_server(root: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(root / "prefect"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO),
    }
    log = open(root / "server.log", "wb")  # noqa: SIM115 - the server's, for its life
    process = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as answer:
                if answer.status == 200:
                    return process, env
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((root / "server.log").read_text()[-3000:])
        time.sleep(0.5)


def write_docs(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    with SCIFACT.open() as lines:
        for _, line in zip(range(n), lines, strict=False):
            doc = json.loads(line)
            (folder / f"{doc['_id']}.txt").write_text(f"{doc['title']}\n\n{doc['text']}\n")


def online(env: dict[str, str], names: set[str]) -> bool:
    """Whether every named worker has sent a heartbeat (and the pool's limit counts them)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.claims import live_workers

    with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}):
        with get_client(sync_client=True) as client:
            try:
                live = live_workers(client, "inlet")
                limit = client.read_work_pool("inlet").concurrency_limit or 0
            except Exception:  # noqa: BLE001 - the first worker has not made the pool yet
                return False
    return all(any(w.startswith(f"inlet-{n}-") for w in live) for n in names) and limit >= len(names)


def one_job(
    env: dict[str, str], root: Path, docs: Path, workers: int, part_size: int, s3: str | None = None
) -> dict[str, Any]:
    """Start ``workers`` workers on a fresh home, submit the job, wait; its figures. With ``s3``
    (an S3 server's URL): a new bucket, a home for each worker and one for the submitter."""
    names = {f"w{i + 1}" for i in range(workers)}
    home = root / f"home-{workers}"
    run_env = {**env, "INLET_HOME": str(home), "PREFECT_API_URL": env["PREFECT_API_URL"]}
    homes = dict.fromkeys(names, home)
    if s3 is not None:
        from tests.s3_server import aws_env, new_store

        run_env |= {"INLET_STORE": new_store(s3, f"scale-{workers}"), **aws_env(s3)}
        run_env.pop("PREFECT_HOME")  # each machine's Prefect files in its own home
        homes = {name: root / f"home-{workers}-{name}" for name in names}
    started = []
    for name in sorted(names):
        log = open(root / f"worker-{workers}-{name}.log", "wb")  # noqa: SIM115 - closed with the process
        worker_env = {**run_env, "INLET_HOME": str(homes[name])}
        started.append(subprocess.Popen([str(BIN / "inlet"), "worker", "--name", name], env=worker_env, cwd=REPO,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True))  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not online(env, names):
            if time.monotonic() > deadline or any(p.poll() is not None for p in started):
                raise RuntimeError(f"workers {names} did not come online; see {root}")
            time.sleep(0.5)
        time.sleep(3)  # the models load in the background of a new worker: let them finish
        # staging is timed apart, before the job (without a store it passes the paths on)
        script = (
            "import json, sys, inlet\n"
            "from pipelines.config import get_settings\n"
            "from pipelines.staging import stage\n"
            "settings = get_settings(part_size=int(sys.argv[2]))\n"
            "staged = stage([sys.argv[1]], settings)\n"
            "job = inlet.submit(staged.paths, 'scale', settings=settings)\n"
            "summary = inlet.wait(job, progress=False, settings=settings)\n"
            "again = stage([sys.argv[1]], settings)\n"
            "print(json.dumps({'job_id': job, 'status': summary['status'], 'files': staged.files,\n"
            "    'sent': staged.sent, 'bytes_sent': staged.bytes_sent, 'stage_s': staged.seconds,\n"
            "    'again_sent': again.sent, 'again_s': again.seconds}))\n"
        )
        done = subprocess.run([sys.executable, "-c", script, str(docs), str(part_size)], env=run_env, cwd=REPO,
                              capture_output=True, text=True, timeout=3600, check=True)  # fmt: skip
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        for process in started:
            stop(process)
    os.environ.update({k: v for k, v in run_env.items() if k.startswith(("AWS_", "INLET_STORE"))})
    os.environ["INLET_HOME"] = str(home)
    from pipelines import analytics
    from pipelines.config import get_settings

    settings = get_settings(home=home, store=run_env.get("INLET_STORE"))
    job_id = answer["job_id"]
    row = analytics.jobs(settings, job_id=job_id).row(0, named=True)
    seconds = (row["finished_at"] - row["submitted_at"]).total_seconds()
    files = analytics.job_sources(settings, job_id)
    per_worker = files.group_by("worker").len().sort("worker").rows()
    staging = {k: answer[k] for k in ("files", "sent", "bytes_sent", "stage_s", "again_sent", "again_s")}
    return {"workers": workers, "status": answer["status"], "files": row["sources"], "seconds": seconds,
            "files_per_min": 60 * row["sources"] / seconds, "per_worker": per_worker, "staging": staging}  # fmt: skip


def dask_figures(batches: int, batch_chunks: int) -> dict[str, float]:
    """Embedding batches as tasks of one flow: thread pool against a local Dask cluster."""
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner  # type: ignore[import-not-found]

    from pipelines.config import get_settings

    texts = []
    with SCIFACT.open() as lines:
        for _, line in zip(range(batches * batch_chunks), lines, strict=False):
            doc = json.loads(line)
            texts.append(f"{doc['title']}. {doc['text']}"[:1200])
    parts = [texts[i : i + batch_chunks] for i in range(0, len(texts), batch_chunks)]

    @task(cache_policy=NO_CACHE)
    def embed_batch(chunk_texts: list[str]) -> int:
        from pipelines.embed import load_embedder

        embedder = load_embedder(get_settings())
        return len(embedder.encode_documents(chunk_texts))

    def timed(runner: Any) -> list[float]:
        @flow(task_runner=runner)
        def embed_all() -> int:
            return sum(f.result() for f in [embed_batch.submit(p) for p in parts])

        times = []
        for _ in range(3):
            began = time.perf_counter()
            assert embed_all() == len(texts)
            times.append(time.perf_counter() - began)
        return times

    threads = timed(ThreadPoolTaskRunner(max_workers=get_settings().task_workers))
    dask = timed(DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "processes": True}))
    return {
        "chunks": float(len(texts)),
        "threads_first_s": threads[0], "threads_s": statistics.median(threads[1:]),
        "dask_first_s": dask[0], "dask_s": statistics.median(dask[1:]),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=120, help="SciFact abstracts in the job")
    parser.add_argument("--part-size", type=int, default=20, help="files per part of the job")
    parser.add_argument("--store", action="store_true",
                        help="an S3 store (moto on loopback), a home per worker, inputs staged")  # fmt: skip
    parser.add_argument("--skip-workers", action="store_true", help="only --dask")
    parser.add_argument("--dask", action="store_true", help="also time Prefect's Dask task runner")
    parser.add_argument("--dask-batches", type=int, default=8)
    parser.add_argument("--dask-batch-chunks", type=int, default=64)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="inlet-scale-"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    try:
        if not args.skip_workers:
            server, env = start_server(root)
            try:
                write_docs(root / "docs", args.docs)
                with contextlib.ExitStack() as running:
                    s3 = None
                    if args.store:
                        from tests.s3_server import serving_s3

                        s3 = running.enter_context(serving_s3())
                    rows = [one_job(env, root, root / "docs", n, args.part_size, s3) for n in (1, 2)]
            finally:
                stop(server)
            where = "an S3 store (moto), a home per worker" if args.store else "one shared home"
            print(
                f"one job of {args.docs} text files, parts of {args.part_size}, {where}, {os.cpu_count()} cores"
            )
            print(f"{'workers':>8} {'status':>10} {'seconds':>8} {'files/min':>10}  files per worker")
            for r in rows:
                print(f"{r['workers']:>8} {r['status']:>10} {r['seconds']:>8.1f} {r['files_per_min']:>10.1f}  "
                      f"{', '.join(f'{w}: {n}' for w, n in r['per_worker'])}")  # fmt: skip
            print(f"ratio two/one: {rows[1]['files_per_min'] / rows[0]['files_per_min']:.2f}")
            for r in rows if args.store else []:
                st = r["staging"]
                print(f"staging for {r['workers']} worker(s): {st['files']} files, {st['sent']} sent, "
                      f"{st['bytes_sent'] / 1e6:.2f} MB in {st['stage_s']:.2f} s "
                      f"({st['bytes_sent'] / 1e6 / max(st['stage_s'], 1e-9):.2f} MB/s); again: "
                      f"{st['again_sent']} sent in {st['again_s']:.2f} s")  # fmt: skip
        if args.dask:
            os.environ["INLET_HOME"] = str(root / "dask-home")
            figures = dask_figures(args.dask_batches, args.dask_batch_chunks)
            print(f"embedding {figures['chunks']:.0f} chunks in {args.dask_batches} task batches, one flow:")
            print(
                f"  thread pool: first {figures['threads_first_s']:.1f} s, then {figures['threads_s']:.1f} s"
            )
            print(
                f"  Dask, 2 processes: first {figures['dask_first_s']:.1f} s, then {figures['dask_s']:.1f} s"
            )
            print(f"  Dask / threads (warm): {figures['dask_s'] / figures['threads_s']:.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
