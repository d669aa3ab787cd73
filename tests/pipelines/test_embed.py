"""The light query encoder (onnxruntime and the tokenizer, no torch) gives the full model's
vectors, and is used only where it can."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines import embed
from pipelines.config import get_settings

pytestmark = pytest.mark.slow

QUERIES = [
    "ask not what your country can do for you",
    "x",
    "",
    "Größe der Stadt, naïve café, 東京 😀",
    "a question far longer than the model's window " * 60,  # truncated like the model does
]


def test_the_light_encoder_gives_the_full_model_s_vectors(embedder) -> None:  # noqa: ANN001
    settings = get_settings()
    embed.load_embedder(settings)  # the first ingest exports the ONNX model; here, this does
    light = embed.load_query_encoder(settings)
    assert isinstance(light, embed.QueryEncoder)
    for query in QUERIES:
        a, b = light.encode_query(query), embedder.encode_query(query)
        assert a.dtype == np.float32 and a.shape == b.shape == (384,)
        assert float(a @ b) > 0.99999 and float(np.abs(a - b).max()) < 1e-5, query
        assert float(np.linalg.norm(a)) == pytest.approx(1.0, abs=1e-6)


def test_without_an_onnx_export_the_full_model_embeds_the_queries() -> None:
    settings = get_settings(embed_backend="torch")
    assert isinstance(embed.load_query_encoder(settings), embed.Embedder)


def test_the_int8_backend_quantises_once_and_keeps_its_vectors_apart() -> None:
    """``onnx-int8`` (the default): the export quantised for this CPU, made once beside the
    full-precision export; its vectors stay close to the full-precision ones but are cached
    under their own name, and searches embed queries with the same int8 graph."""
    settings = get_settings(embed_backend="onnx-int8")
    assert get_settings().embed_backend == "onnx-int8"
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
