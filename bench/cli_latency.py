"""Wall time of the ``inlet`` command from a new process, as a person at a terminal waits for it.

It prints figures; it is not a test. One run:

1. takes ``--home`` (a home with something ingested), or makes a temporary one and ingests the
   samples into it with ``inlet ingest`` (which starts the home's local worker);
2. makes sure the home's local worker is up and answers searches on its socket;
3. runs ``inlet search QUERY --mode hybrid`` and ``--mode text`` ``--runs`` times each way,
   alternating: through the worker's socket, then in-process (the socket renamed aside for
   that run, so the command finds no worker and searches by itself), so both ways see the
   same load on a shared machine. The two ways' ``--json`` outputs are compared too;
   ``inlet jobs`` and ``inlet status`` are run both ways too (the worker answers them from its
   loaded analytics reader); the status shows no worker when its socket is hidden, so only
   the jobs' outputs are compared;
4. runs ``inlet ingest NOTE.txt --json`` the same two ways, each run a new one-line text file:
   the worker submits the job and follows it for the command, or (socket aside) the command
   submits it through Prefect's client and follows it in the analytics store by itself;
5. runs ``inlet --help`` and ``inlet --version`` ``--runs`` times each.

Each figure is the median wall time of a whole process (start, imports, answer, exit), with
the fastest and slowest run, and the median CPU time of that process (on a loaded machine the
wall time is mostly waiting for a core; the CPU time is what the command costs; a search the
worker answers costs the worker a further 20-40 ms, not counted). The searches also print
in-process / socket wall time as a ratio. The 1-minute load average is printed before and
after. ``inlet --version`` is the floor: Python, the installed packages' start-up, click.

    .venv/bin/python bench/cli_latency.py                       # temporary home, 5 runs each
    .venv/bin/python bench/cli_latency.py --home ~/.inlet --query "protein folding" --runs 9
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flows.local_worker import ensure_worker, stop_worker  # noqa: E402
from pipelines.config import Settings, get_settings  # noqa: E402

SAMPLES = REPO / "samples" / "corpus"
SCRIPT = Path(sys.executable).parent / "inlet"
INLET = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "inlet.cli"]


CPU: list[float] = []
"""The CPU seconds (user + system) of each ``inlet`` process run, in order."""


def run(args: list[str], home: Path) -> tuple[float, str]:
    """One ``inlet`` process: its wall time in seconds and its stdout (its CPU time goes to
    :data:`CPU`)."""
    env = {**os.environ, "INLET_HOME": str(home), "PYTHONPATH": str(REPO)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([*INLET, *args], env=env, capture_output=True, text=True, timeout=600)
    took = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise RuntimeError(f"inlet {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return took, done.stdout


@contextlib.contextmanager
def socket_hidden(settings: Settings) -> Iterator[None]:
    """The worker's socket renamed aside: a command started meanwhile finds no worker."""
    path = settings.query_socket_file
    aside = path.with_name(path.name + ".aside")
    os.replace(path, aside)
    try:
        yield
    finally:
        os.replace(aside, path)


def worker_up(settings: Settings, timeout_s: float = 300) -> None:
    """Start the home's local worker unless it runs; wait until its socket answers."""
    ensure_worker(settings)
    deadline = time.monotonic() + timeout_s
    while not settings.query_socket_file.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no worker socket at {settings.query_socket_file}")
        time.sleep(0.2)


def figure(times: list[float], cpu: list[float]) -> str:
    """Median wall time (fastest-slowest) and median CPU time of the command's process."""
    return f"{statistics.median(times):5.2f} s ({min(times):.2f}-{max(times):.2f}) cpu {statistics.median(cpu):.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="a home with something ingested (default: a new one)")
    parser.add_argument("--query", default="ask not what your country can do for you")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    made = None
    home = args.home
    if home is None:
        made = Path(tempfile.mkdtemp(prefix="inlet-cli-bench-"))
        home = made / "home"
        print(f"ingesting the samples into {home} ...", flush=True)
        env = {**os.environ, "INLET_HOME": str(home), "PYTHONPATH": str(REPO)}
        subprocess.run([*INLET, "ingest", str(SAMPLES), "-c", "samples", "--json"], env=env,
                       capture_output=True, check=True, timeout=1800)  # fmt: skip
    os.environ["INLET_HOME"] = str(home)
    settings = get_settings(home=str(home))
    try:
        worker_up(settings)
        run(["search", args.query, "--json"], home)  # the worker's first search loads its encoder
        print(f"load average (1 min) before: {os.getloadavg()[0]:.2f}; {args.runs} runs each, "
              f"medians (fastest-slowest)\n")  # fmt: skip
        print(f"{'command':<34} {'through the worker':>36} {'in-process':>36} {'ratio':>6}")
        both_ways = [("inlet search --mode " + mode, ["search", args.query, "--mode", mode, "--json"])
                     for mode in ("hybrid", "text")]  # fmt: skip
        both_ways += [("inlet jobs", ["jobs", "--json"]), ("inlet status", ["status", "--json"])]
        notes = Path(tempfile.mkdtemp(prefix="inlet-cli-notes-"))
        both_ways += [("inlet ingest (one small file)", ["ingest", str(notes / "note.txt"), "--json"])]
        for name, command in both_ways:
            through: list[float] = []
            alone: list[float] = []
            through_cpu: list[float] = []
            alone_cpu: list[float] = []
            for i in range(args.runs):
                if command[0] == "ingest":  # a new file each run, so that each is ingested
                    for way in ("a", "b"):
                        (notes / f"note{i}{way}.txt").write_text(
                            f"Note {i}{way}: the heron waits at the weir.\n"
                        )
                    command[1] = str(notes / f"note{i}a.txt")
                took, answered = run(command, home)
                through.append(took)
                through_cpu.append(CPU[-1])
                if command[0] == "ingest":
                    command[1] = str(notes / f"note{i}b.txt")
                with socket_hidden(settings):
                    took, searched = run(command, home)
                alone.append(took)
                alone_cpu.append(CPU[-1])
                if command[0] == "ingest":
                    if not json.loads(answered)["status"] == json.loads(searched)["status"] == "completed":
                        raise AssertionError(f"an ingest did not complete: {answered} / {searched}")
                elif json.loads(answered) != json.loads(searched) and command[0] != "status":
                    raise AssertionError(f"the two ways printed different answers for {name}")
            ratio = statistics.median(alone) / statistics.median(through)
            print(f"{name:<34} {figure(through, through_cpu):>36} "
                  f"{figure(alone, alone_cpu):>36} {ratio:5.1f}x")  # fmt: skip
        for command in (["--help"], ["--version"]):
            times = [run(command, home)[0] for _ in range(args.runs)]
            print(f"{'inlet ' + ' '.join(command):<34} {figure(times, CPU[-args.runs :]):>36}")
        print(f"\nload average (1 min) after: {os.getloadavg()[0]:.2f}")
    finally:
        if made is not None:
            stop_worker(settings)
            shutil.rmtree(made, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
