"""The embedding backends: the light query encoder (onnxruntime and the tokenizer, no torch)
gives the full model's vectors and is used only where it can; the int8 backends quantise once and
keep their vectors apart; OpenVINO serves only the models it reproduces."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines import embed
from pipelines.config import get_settings
from pipelines.embedder import Embedder

pytestmark = pytest.mark.slow

QUERIES = [
    "ask not what your country can do for you",
    "x",
    "",
    "Größe der Stadt, naïve café, 東京 😀",
    "a question far longer than the model's window " * 60,  # truncated like the model does
]


def test_the_light_encoder_gives_the_full_model_s_vectors() -> None:
    settings = get_settings(embed_backend="onnx")
    full = embed.load_embedder(settings)  # the first ingest exports the ONNX model; here, this does
    light = embed.load_query_encoder(settings)
    assert isinstance(light, embed.QueryEncoder)
    assert (
        type(embed.load_query_encoder(get_settings())).__name__ == "OpenVINOEmbedder"
    )  # the default's: no torch
    for query in QUERIES:
        a, b = light.encode_query(query), full.encode_query(query)
        assert a.dtype == np.float32 and a.shape == b.shape == (384,)
        assert float(a @ b) > 0.99999 and float(np.abs(a - b).max()) < 1e-5, query
        assert float(np.linalg.norm(a)) == pytest.approx(1.0, abs=1e-6)


def test_without_an_onnx_export_the_full_model_embeds_the_queries() -> None:
    settings = get_settings(embed_backend="torch")
    assert isinstance(embed.load_query_encoder(settings), Embedder)


def test_the_int8_backend_quantises_once_and_keeps_its_vectors_apart() -> None:
    """``onnx-int8``: the export quantised for this CPU, made once beside the full-precision
    export; its vectors stay close to the full-precision ones but are cached under their own
    name, and searches embed queries with the same int8 graph."""
    settings = get_settings(embed_backend="onnx-int8")
    int8 = embed.load_embedder(settings)
    fp32 = embed.load_embedder(get_settings(embed_backend="onnx"))
    graph = embed.onnx_graph("onnx-int8")
    folder = next(settings.models_dir.glob("*-onnx"))
    assert (folder / graph).exists() and graph.startswith("onnx/model_qint8_")
    assert (folder / embed.FP32_GRAPH).exists()
    assert int8.name == "all-MiniLM-L6-v2 (int8)" and fp32.name == "all-MiniLM-L6-v2"
    assert embed.text_key(int8.name, "same text") != embed.text_key(fp32.name, "same text")
    texts = [q for q in QUERIES if q] + ["The mitochondria is the powerhouse of the cell."]
    a, b = int8.encode_documents(texts), fp32.encode_documents(texts)
    cosines = (a * b).sum(axis=1)
    assert cosines.min() > 0.95 and cosines.mean() > 0.98
    light = embed.load_query_encoder(settings)
    assert isinstance(light, embed.QueryEncoder) and light.name == int8.name
    for query in QUERIES:
        assert float(light.encode_query(query) @ int8.encode_query(query)) > 0.99999


DOCUMENTS = [q for q in QUERIES if q] + [
    "The mitochondria is the powerhouse of the cell.",
    "Flask is a lightweight WSGI web application framework.",
    "Es war einmal ein König, der hatte drei Töchter.",
]


def test_the_openvino_encoder_gives_sentence_transformers_vectors() -> None:
    """OpenVINO's encoder, run on the full-precision export, gives sentence-transformers'
    vectors (so on the int8 copy it differs only by the quantisation), and hands on the token
    vectors they pool."""
    from pipelines import embed_openvino

    ort = embed.load_embedder(get_settings(embed_backend="onnx"))
    folder = next(get_settings().models_dir.glob("*-onnx"))
    ov = embed_openvino.load(folder, embed.FP32_GRAPH, ort.name, "openvino", 16)
    assert (ov.dim, ov.max_seq_length) == (ort.dim, ort.max_seq_length) == (384, 256)
    a, b = ov.encode_documents(DOCUMENTS), ort.encode_documents(DOCUMENTS)
    assert a.shape == b.shape == (len(DOCUMENTS), 384)
    assert float((a * b).sum(axis=1).min()) > 0.99999
    heard: list[tuple[str, np.ndarray, list[tuple[int, int]]]] = []
    c = ov.encode_documents_with_tokens(
        DOCUMENTS, lambda text, rows, offsets=None: heard.append((text, rows, list(offsets or [])))
    )
    assert np.abs(c - a).max() < 1e-6 and sorted(t for t, _, _ in heard) == sorted(DOCUMENTS)
    for text, rows, offsets in heard:  # one row per input token, special tokens included, cut at 256
        tokens = ort.tokenizer(text, return_offsets_mapping=True)
        assert rows.shape == (min(len(tokens["input_ids"]), 256), 384)
        # each row's character span; a text cut at 256 ends with its [SEP], which spans nothing
        assert offsets[:-1] == [tuple(o) for o in tokens["offset_mapping"][: len(rows) - 1]]
        assert offsets[-1] == (0, 0)
        mean = rows.mean(axis=0)
        assert float(mean @ a[DOCUMENTS.index(text)]) / float(np.linalg.norm(mean)) > 0.99999
    assert ov.encode_documents([]).shape == (0, 384)
    text = ["Ask not what your country can do for you " * 40]  # what the chunker counts: no limit
    mine = ov.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    theirs = ort.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    assert len(mine["input_ids"][0]) == 360
    assert (mine["input_ids"], mine["offset_mapping"]) == (theirs["input_ids"], theirs["offset_mapping"])


def test_openvino_int8_quantises_once_and_keeps_its_vectors_apart() -> None:
    """``openvino-int8``: the export quantised by NNCF once, beside it; its vectors are close to
    the full-precision ones, cached under their own name, and searches embed their queries with
    the same int8 copy compiled for one thread."""
    settings = get_settings(embed_backend="openvino-int8")
    int8 = embed.load_embedder(settings)
    fp32 = embed.load_embedder(get_settings(embed_backend="onnx"))
    folder = next(settings.models_dir.glob("*-onnx"))
    graph = folder / embed.onnx_graph("openvino-int8")
    assert graph.exists() and graph.with_suffix(".bin").exists()
    made = graph.stat().st_mtime_ns
    assert int8.name == "all-MiniLM-L6-v2 (int8 openvino)"
    assert len({int8.name, fp32.name, embed.vectors_name("all-MiniLM-L6-v2", "onnx-int8")}) == 3
    a, b = int8.encode_documents(DOCUMENTS), fp32.encode_documents(DOCUMENTS)
    cosines = (a * b).sum(axis=1)
    assert cosines.min() > 0.95 and cosines.mean() > 0.98, cosines
    embed._load_query_encoder.cache_clear()  # as in a new process, where the copy exists
    light = embed.load_query_encoder(settings)  # the same int8 copy, on one thread
    assert type(light) is type(int8) and light is not int8 and light.name == int8.name
    for query in QUERIES:
        assert float(light.encode_query(query) @ int8.encode_query(query)) > 0.99999
        if query:  # a search never embeds an empty query; two special tokens alone: 0.92
            assert float(light.encode_query(query) @ fp32.encode_query(query)) > 0.95
    embed._load.cache_clear()  # a new process loads the kept copy
    assert embed.load_embedder(settings).encode_documents(DOCUMENTS[:2]).shape == (2, 384)
    assert graph.stat().st_mtime_ns == made


def test_auto_runs_int8_only_on_a_cpu_with_an_int8_dot_product() -> None:
    """The default backend, ``auto``: OpenVINO's int8 copy where the CPU multiplies int8 in one
    instruction, its full-precision graph elsewhere (where int8 is slower); the choice made here
    is the one the embedder and the query encoder run."""
    assert get_settings().embed_backend == "auto"
    zen3 = frozenset("fpu sse4_2 avx avx2 fma".split())  # an AMD EPYC 7003: AVX2, no VNNI
    assert embed.auto_backend(zen3, "x86_64") == "openvino"
    # Cascade Lake and later, Alder Lake, Sapphire Rapids
    for vnni in ("avx512_vnni", "avx_vnni", "amx_int8"):
        assert embed.auto_backend(zen3 | {vnni}, "x86_64") == "openvino-int8"
    assert embed.auto_backend(frozenset("fp asimd asimddp".split()), "aarch64") == "openvino-int8"
    assert embed.auto_backend(frozenset("fp asimd".split()), "aarch64") == "openvino"
    assert embed.auto_backend(frozenset(), "arm64") == "openvino-int8"  # a Mac lists no flags
    here = embed.auto_backend()
    assert embed.resolve_backend("auto") == here and embed.resolve_backend("onnx") == "onnx"
    assert embed.load_embedder(get_settings()).backend == here


def test_openvino_full_precision_gives_the_model_s_own_vectors() -> None:
    """``openvino``: the full-precision export run by OpenVINO, no quantisation made; its vectors
    are the model's (so they share the name and the cache with ``onnx`` and ``torch``), and a
    search embeds its query with the same graph on one thread."""
    settings = get_settings(embed_backend="openvino")
    ov = embed.load_embedder(settings)
    fp32 = embed.load_embedder(get_settings(embed_backend="onnx"))
    assert ov.backend == "openvino" and ov.name == fp32.name == "all-MiniLM-L6-v2"
    a, b = ov.encode_documents(DOCUMENTS), fp32.encode_documents(DOCUMENTS)
    assert float((a * b).sum(axis=1).min()) > 0.99999
    embed._load_query_encoder.cache_clear()
    light = embed.load_query_encoder(settings)
    assert type(light) is type(ov) and light is not ov
    for query in QUERIES:
        assert float(light.encode_query(query) @ fp32.encode_query(query)) > 0.99999


def test_chunks_embed_from_the_chunker_s_tokens_as_from_their_text() -> None:
    """OpenVINO runs the token ids the chunker counted instead of tokenising each chunk again:
    the same vectors and the same token offsets (the analyse stage pools by them), for chunks of
    real abstracts, of text with accents and CJK, and of a long text cut into many windows."""
    from pipelines.chunk import chunk_segments
    from pipelines.records import Segment
    from tests.pipelines.test_analyse import scifact

    ov = embed.load_embedder(get_settings(embed_backend="openvino"))
    assert ov.wrap == ([101], [102])  # [CLS] and [SEP] around the chunker's tokens
    sources = [[Segment(text=r["title"]), Segment(text=r["text"])] for r in scifact(20)]
    sources += [[Segment(text=q)] for q in QUERIES if q.strip()]
    chunks = [
        c
        for segments in sources
        for c in chunk_segments(
            segments, tokenizer=ov.tokenizer, max_tokens=64, overlap=8,
            collection="c", source_id="s", chunking_key="k",
        )
    ]  # fmt: skip
    assert len(chunks) > 40 and all(c.tokens is not None for c in chunks)
    texts = [c.text for c in chunks]
    heard: dict[str, list] = {"again": [], "counted": []}
    again = ov.encode_chunks(
        texts, [None] * len(texts), lambda t, v, o: heard["again"].append((t, v, np.asarray(o).tolist()))
    )
    counted = ov.encode_chunks(
        texts,
        [c.tokens for c in chunks],
        lambda t, v, o: heard["counted"].append((t, v, np.asarray(o).tolist())),
    )
    assert np.array_equal(again, counted)
    for (t1, v1, o1), (t2, v2, o2) in zip(heard["again"], heard["counted"], strict=True):
        assert t1 == t2 and o1 == o2 and np.array_equal(v1, v2)


def test_a_model_openvino_cannot_reproduce_runs_on_onnx_int8(tmp_path) -> None:  # noqa: ANN001
    """A model with prompts (e5-like) is not run by the OpenVINO encoder, which does not add
    them: under an ``openvino`` backend it runs on ``onnx-int8``, prompts and all."""
    import json
    import shutil

    fp32 = embed.load_embedder(get_settings(embed_backend="onnx"))
    source = next(get_settings().models_dir.glob("*-onnx"))
    model = tmp_path / "prompted-model"
    shutil.copytree(source, model, ignore=shutil.ignore_patterns("openvino", "model_qint8*"))
    config = json.loads((model / "config_sentence_transformers.json").read_text())
    config["prompts"] = {"query": "query: ", "document": "passage: "}
    (model / "config_sentence_transformers.json").write_text(json.dumps(config))
    served = embed.load_embedder(get_settings(embed_backend="openvino-int8", embed_model=str(model)))
    assert type(served) is Embedder and served.backend == "onnx-int8"
    assert served.name.endswith("(int8)")
    vector = served.encode_documents(["Flask is a framework."])[0]
    prompted = fp32.encode_documents(["passage: Flask is a framework."])[0]
    plain = fp32.encode_documents(["Flask is a framework."])[0]
    assert float(vector @ prompted) > float(vector @ plain)


def test_openvino_sends_no_telemetry(tmp_path) -> None:
    """Loading and running inlet's OpenVINO encoders, in a new process whose user has never
    used OpenVINO, forks no child (OpenVINO's telemetry sends its event from one) and leaves
    nothing under ``~/intel`` (where it keeps its client id)."""
    import os
    import subprocess
    import sys

    models = get_settings().models_dir
    embed.load_embedder(get_settings(embed_backend="onnx"))  # the export both encoders run
    script = """
import os
forks = []
os.register_at_fork(before=lambda: forks.append(1))
from pipelines import embed
from pipelines.config import get_settings
settings = get_settings(embed_backend="openvino")
documents = embed.load_embedder(settings)
query = embed.load_query_encoder(settings)
assert type(documents).__name__ == type(query).__name__ == "OpenVINOEmbedder"
vectors = documents.encode_documents(["The mitochondria is the powerhouse of the cell."] * 40)
print(len(forks), vectors.shape[0], round(float(query.encode_query("cells") @ vectors[0]), 2))
"""
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "INLET_MODELS_DIR": str(models),
        "INLET_HOME": str(tmp_path / "home"),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    forks, rows, _ = done.stdout.split()
    assert (forks, rows) == ("0", "40")
    assert not (tmp_path / "intel").exists()


def test_a_query_asked_again_reuses_its_vector() -> None:
    """The same query asked again is not embedded again: its kept vector comes back (read-only,
    so no caller can change it for the next), and it is the encoder's vector; another query or
    another backend gets its own."""
    settings = get_settings(embed_backend="openvino")  # full precision on every CPU, as onnx below
    text = "whales and the songs they sing"
    first = embed.query_vector(settings, text)
    assert embed.query_vector(settings, text) is first and not first.flags.writeable
    assert float(first @ embed.load_query_encoder(settings).encode_query(text)) > 0.99999
    other = embed.query_vector(settings, "the price of tea in 1850")
    assert other is not first and float(other @ first) < 0.9
    embed.load_embedder(get_settings(embed_backend="onnx"))  # the export onnxruntime runs
    by_onnx = embed.query_vector(get_settings(embed_backend="onnx"), text)
    assert by_onnx is not first and float(by_onnx @ first) > 0.99999
