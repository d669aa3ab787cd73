"""The ``openvino-int8`` embedding backend: the model's ONNX export quantised to int8 once by
NNCF and run by OpenVINO.

On this project's 2 CPU cores OpenVINO runs the int8 copy (static quantisation: activations
too, not only weights, with SmoothQuant for transformers) about 1.4 times as fast as
onnxruntime runs its dynamic int8 copy (``bench/ingest.py``), at equal SciFact nDCG@10. The int8 copy is made from the ONNX export in ``models_dir`` on first use,
calibrated on docstrings of Python's standard library (English prose found on every machine,
nothing fetched), and written beside the export, whole or not at all.

Only a model this module reproduces exactly is served here: a sentence-transformers model whose
modules are a transformer, mean pooling and (optionally) normalisation, with no prompts
(:func:`pipelines.embedder.pools_by_mean_without_prompts`); :func:`pipelines.embed.load_embedder`
takes another model to the ONNX backend.
:mod:`pipelines.embed` loads this backend; this module knows nothing of the others.
No torch is imported: the tokenizer is the model's ``tokenizer.json`` run by ``tokenizers``.
OpenVINO and NNCF are imported without their usage telemetry (:func:`without_telemetry`).
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import os
import random
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.embedder import Embedder, Offsets, Tokens, TokenSink, WordPieces, max_tokens

log = logging.getLogger("inlet.embed")

INT8_GRAPH = "openvino/model_qint8.xml"
"""The int8 copy of the export, relative to the export's folder (its weights in ``.bin`` beside)."""

CALIBRATION_TEXTS = 300
"""Texts NNCF runs through the model to choose the int8 ranges of its activations."""

_CALIBRATION_MODULES = (
    "argparse", "asyncio", "bisect", "calendar", "collections", "contextlib", "csv", "dataclasses",
    "datetime", "decimal", "difflib", "email", "enum", "fractions", "functools", "heapq",
    "http.client", "inspect", "itertools", "json", "logging", "os", "pathlib", "pickle", "random",
    "shutil", "socket", "sqlite3", "ssl", "statistics", "string", "subprocess", "tarfile",
    "tempfile", "textwrap", "threading", "typing", "unittest", "urllib.request",
    "xml.etree.ElementTree", "zipfile",
)  # fmt: skip


TELEMETRY_MODULE = "openvino_telemetry"
TELEMETRY_CONSENT = Path("~/intel/openvino_telemetry")
"""Where OpenVINO's ``opt_in_out`` script records a user's choice (``1``: send, ``0``: do not)."""


@contextlib.contextmanager
def without_telemetry() -> Iterator[None]:
    """Within the block, OpenVINO and NNCF are imported with their telemetry stubs.

    ``import openvino`` (2026.4) sends a usage event to an analytics service unless the user
    opted out with OpenVINO's ``opt_in_out`` script, and writes a client id under ``~/intel``.
    On Linux the event goes from a child forked from the importing process: inlet's worker,
    whose LanceDB runtime warns that a fork may deadlock. inlet runs offline and local (its
    Prefect analytics are off too), so the telemetry package cannot be imported here and both
    libraries use their own stubs. A user who opted in with ``opt_in_out``, or whose process
    imported the package already, is left alone.
    """
    opted_in = False
    with contextlib.suppress(OSError):
        opted_in = TELEMETRY_CONSENT.expanduser().read_text().strip() == "1"
    if opted_in or TELEMETRY_MODULE in sys.modules:
        yield
        return
    sys.modules[TELEMETRY_MODULE] = None  # type: ignore[assignment]  # importing it fails: the stubs are used
    try:
        yield
    finally:
        if TELEMETRY_MODULE in sys.modules and sys.modules[TELEMETRY_MODULE] is None:
            del sys.modules[TELEMETRY_MODULE]


def _openvino() -> Any:
    """The ``openvino`` module, imported without its telemetry (once: each document pass asks)."""
    if "openvino" in sys.modules:
        return sys.modules["openvino"]
    with without_telemetry():
        import openvino

    return openvino


def calibration_texts(count: int = CALIBRATION_TEXTS) -> list[str]:
    """``count`` docstrings of at least 200 characters from Python's standard library, in a fixed
    shuffled order: varied English prose about many subjects, on every machine inlet runs on."""
    import importlib

    texts: list[str] = []
    seen: set[str] = set()
    for name in _CALIBRATION_MODULES:
        module = importlib.import_module(name)
        for _, member in [("", module), *sorted(vars(module).items())]:
            if isinstance(member, (int, float, str, bytes, tuple, list, dict, set)):
                continue
            with contextlib.suppress(Exception):
                doc = inspect.getdoc(member)
                if doc and len(doc) >= 200 and doc not in seen:
                    seen.add(doc)
                    texts.append(doc)
    random.Random(1).shuffle(texts)
    return texts[:count]


@contextlib.contextmanager
def one_process_at_a_time(folder: Path) -> Iterator[None]:
    """Hold the lock of ``folder``'s quantisation: the workers of one machine share the models
    folder, and the second to start waits for the first one's copy instead of making its own."""
    import fcntl

    with open(folder / ".quantise.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def quantize(folder: Path, fp32_graph: str) -> None:
    """Write the int8 copy (:data:`INT8_GRAPH`) of the ONNX export in ``folder`` (once)."""
    with without_telemetry():
        import nncf
    ov = _openvino()

    log.info("quantising %s to int8 with OpenVINO (once), into %s", folder.name, folder)
    core = ov.Core()
    model = core.read_model(str(folder / fp32_graph))
    names = {i.get_any_name() for i in model.inputs}
    tokenizer = _tokenizer(folder)

    def feeds(text: str) -> dict[str, np.ndarray]:
        ids, mask, _ = _batch(tokenizer, [text])
        return {k: v for k, v in _inputs(ids, mask).items() if k in names}

    tmp = Path(tempfile.mkdtemp(dir=folder, prefix=".quantise-"))
    try:
        with warnings.catch_warnings(), _quiet_nncf():
            warnings.simplefilter("ignore")
            quantized = nncf.quantize(
                model,
                nncf.Dataset(calibration_texts(), feeds),
                model_type=nncf.ModelType.TRANSFORMER,
                subset_size=CALIBRATION_TEXTS,
            )
        graph = tmp / Path(INT8_GRAPH).name
        ov.save_model(quantized, str(graph))
        target = folder / INT8_GRAPH
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(graph.with_suffix(".bin"), target.with_suffix(".bin"))  # weights first: the
        os.replace(graph, target)  # graph's presence says the copy is whole
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _quiet_nncf() -> Iterator[None]:
    """NNCF draws progress bars (on standard output) and logs at INFO: keep them out of a
    worker's log."""
    nncf_log = logging.getLogger("nncf")
    level = nncf_log.level
    nncf_log.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        nncf_log.setLevel(level)


def _tokenizer(folder: Path) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens(folder))
    return tokenizer


Wrapping = tuple[list[int], list[int]]
"""The special tokens the encoder puts before and after a text's own (``[CLS]``, ``[SEP]``)."""


def _wrapping(encoder: Any, counter: WordPieces) -> Wrapping | None:
    """The special tokens around a text's own when ``encoder`` tokenises it, provided a text's
    tokens as the chunker's ``counter`` counts them, so wrapped, are exactly the encoder's;
    else ``None`` (then every text is tokenised again)."""
    probe = "Inlet's encoder checks, once, that the chunker's tokens are its own: naïve café 42."
    counted = counter.backend_tokenizer.encode(probe, add_special_tokens=False).ids
    full, bare = encoder.encode(probe).ids, encoder.encode("").ids  # the special tokens alone
    for cut in range(len(bare) + 1):
        if full == bare[:cut] + counted + bare[cut:]:
            return list(bare[:cut]), list(bare[cut:])
    return None


def _batch(
    tokenizer: Any,
    texts: list[str],
    tokens: Sequence[Tokens | None] | None = None,
    wrap: Wrapping | None = None,
    limit: int = 0,
) -> tuple[np.ndarray, np.ndarray, list[Offsets]]:
    """Token ids and attention mask of ``texts``, padded with zeros to the longest, and each
    text's token offsets. A text whose ``tokens`` are given (and fit in ``limit`` once wrapped
    in the special tokens of ``wrap``) is not tokenised again."""
    rows: list[Any] = [None] * len(texts)  # (ids, offsets) of each text: lists or arrays
    if tokens is not None and wrap is not None:
        before, after = wrap
        edges = np.zeros((len(before), 2), dtype=np.int32), np.zeros((len(after), 2), dtype=np.int32)
        for i, known in enumerate(tokens):
            if known is not None and len(known[0]) + len(before) + len(after) <= limit:
                rows[i] = (
                    np.concatenate([before, known[0], after]),
                    np.concatenate([edges[0], known[1], edges[1]]),
                )
    missing = [i for i, row in enumerate(rows) if row is None]
    if missing:
        for i, e in zip(missing, tokenizer.encode_batch([texts[i] for i in missing]), strict=True):
            rows[i] = e.ids, e.offsets
    width = max(len(row_ids) for row_ids, _ in rows)
    ids = np.zeros((len(texts), width), dtype=np.int64)
    mask = np.zeros((len(texts), width), dtype=np.int64)
    for row, (row_ids, _) in enumerate(rows):
        ids[row, : len(row_ids)] = row_ids
        mask[row, : len(row_ids)] = 1
    return ids, mask, [offsets for _, offsets in rows]


def _inputs(ids: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def _normalise(rows: np.ndarray) -> np.ndarray:
    return np.asarray(rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12), dtype=np.float32)


@dataclass
class OpenVINOEmbedder(Embedder):
    """An export run by OpenVINO, with the interface of :class:`pipelines.embedder.Embedder`
    (``model`` is the compiled model). Texts are sorted by length and run ``batch_size`` at a
    time, padded to the longest of their batch, as sentence-transformers does."""

    folder: Path = Path()
    counter: Any = None
    encoder: Any = None
    seq_length: int = 256
    width: int = 0
    inputs: frozenset[str] = frozenset()
    streams: int = 1
    """Passes run at once (OpenVINO's streams): one per core for documents, one for a query."""
    wrap: Wrapping | None = None
    """The encoder's special tokens around the chunker's (:func:`_wrapping`); ``None`` when the
    chunker's tokens are not the encoder's, and chunks are tokenised again."""
    _requests: threading.local = field(default_factory=threading.local)

    @property
    def tokenizer(self) -> Any:
        return self.counter

    @property
    def max_seq_length(self) -> int:
        return self.seq_length

    @property
    def dim(self) -> int:
        return self.width

    @property
    def pools_by_mean(self) -> bool:
        return True

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        request = getattr(self._requests, "request", None)
        if request is None:  # an infer request serves one thread at a time
            request = self._requests.request = self.model.create_infer_request()
        result = request.infer(self._feed(ids, mask))
        return np.asarray(result[self.model.outputs[0]], dtype=np.float32)

    def _feed(self, ids: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
        return {k: v for k, v in _inputs(ids, mask).items() if k in self.inputs}

    def _passes(
        self, texts: list[str], tokens: Sequence[Tokens | None] | None = None
    ) -> Iterator[tuple[list[int], np.ndarray, np.ndarray, list[Offsets]]]:
        """(positions in ``texts``, token vectors, mask, token offsets) per forward pass, shortest texts first.
        With several streams, passes run ``streams`` at a time, each stream on its own core, and
        the caller pools a finished pass while the next ones run. ``tokens``: see :func:`_batch`."""

        def batch(rows: list[int]) -> tuple[np.ndarray, np.ndarray, list[Offsets]]:
            known = None if tokens is None else [tokens[i] for i in rows]
            return _batch(self.encoder, [texts[i] for i in rows], known, self.wrap, self.seq_length)

        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]
        if self.streams <= 1:
            for rows in batches:
                ids, mask, offsets = batch(rows)
                yield rows, self._run(ids, mask), mask, offsets
            return
        ov = _openvino()
        queue = getattr(self._requests, "queue", None)
        if queue is None:  # a queue of requests serves one thread at a time
            queue = self._requests.queue = ov.AsyncInferQueue(self.model, self.streams)
        finished: dict[int, np.ndarray] = {}
        queue.set_callback(
            lambda request, n: finished.__setitem__(n, request.get_output_tensor(0).data.copy())
        )
        masks: dict[int, tuple[np.ndarray, list[Offsets]]] = {}
        given = 0
        try:
            for n, rows in enumerate(batches):
                ids, mask, offsets = batch(rows)
                masks[n] = mask, offsets
                queue.start_async(self._feed(ids, mask), n)  # waits for a free request
                while given in finished:  # in order, as soon as they are done
                    yield batches[given], finished.pop(given), *masks.pop(given)
                    given += 1
            queue.wait_all()
            while given < len(batches):
                yield batches[given], finished.pop(given), *masks.pop(given)
                given += 1
        finally:
            queue.wait_all()  # a caller that stops early (an error, a deadline) leaves none running

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        """Normalised float32 vectors, one row per text."""
        return self.encode_documents_with_tokens(texts, None)

    def encode_documents_with_tokens(self, texts: list[str], on_tokens: TokenSink | None) -> np.ndarray:
        """As :meth:`encode_documents`, handing each text's token vectors (special tokens
        included) and their offsets to ``on_tokens(text, rows, offsets)`` when given."""
        return self.encode_chunks(texts, [None] * len(texts), on_tokens)

    def encode_chunks(
        self, texts: list[str], tokens: Sequence[Tokens | None], on_tokens: TokenSink | None
    ) -> np.ndarray:
        """As :meth:`encode_documents_with_tokens`, running the chunker's token ids of each text
        where they are given (:meth:`pipelines.embedder.Embedder.encode_chunks`)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for rows, vectors, mask, offsets in self._passes(texts, tokens):
            weights = mask[..., None].astype(np.float32)
            out[rows] = (vectors * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            if on_tokens is not None:
                for row, position in enumerate(rows):
                    on_tokens(texts[position], vectors[row, : int(mask[row].sum())], offsets[row])
        return _normalise(out)

    def encode_query(self, text: str) -> np.ndarray:
        """The normalised vector of one search query."""
        return np.asarray(self.encode_documents([text])[0], dtype=np.float32)


def load(
    folder: Path, graph: str, name: str, backend: str, batch_size: int, threads: int | None = None
) -> OpenVINOEmbedder:
    """The export in ``folder`` (``graph``: :data:`INT8_GRAPH`, or an ONNX file) compiled for this
    CPU. Without ``threads``, for throughput: as many streams as OpenVINO finds best here (one
    per core on a small machine), each running its own pass; with ``threads``, for the latency of
    one query: one pass at a time on that many threads. Compiled graphs are cached under
    ``folder/openvino/cache``, so later processes start faster."""
    ov = _openvino()
    core = ov.Core()
    core.set_property({"CACHE_DIR": str(folder / "openvino" / "cache")})
    # f32 where the graph is not int8: OpenVINO would run it in bfloat16 on a CPU that has it
    # (vectors 0.99996 cosine to full precision's, and another CPU would give others)
    config = {
        "PERFORMANCE_HINT": "THROUGHPUT" if threads is None else "LATENCY",
        "INFERENCE_PRECISION_HINT": "f32",
    }
    if threads:
        config["INFERENCE_NUM_THREADS"] = str(threads)
    compiled = core.compile_model(str(folder / graph), "CPU", config)
    width = compiled.outputs[0].get_partial_shape()[-1]
    streams = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")) if threads is None else 1
    counter, encoder = WordPieces(folder), _tokenizer(folder)
    return OpenVINOEmbedder(
        name=name, backend=backend, model=compiled, batch_size=batch_size, folder=folder,
        counter=counter, encoder=encoder, seq_length=max_tokens(folder),
        width=int(width.get_length()), inputs=frozenset(i.get_any_name() for i in compiled.inputs),
        streams=streams, wrap=_wrapping(encoder, counter),
    )  # fmt: skip
