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
