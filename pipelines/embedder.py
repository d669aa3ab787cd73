"""What an embedder is: the interface the chunker, the index, the analyse stage and the searches
use (:class:`Embedder`, the sentence-transformers implementation of it, which every other backend
follows), and :class:`WordPieces`, a tokenizer that counts as a Hugging Face one does.

:mod:`pipelines.embed` loads embedders; :mod:`pipelines.embed_openvino` is one backend.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

Offsets = Sequence[tuple[int, int]]
"""Each token's character span in its text (``(0, 0)`` for a special token)."""
Tokens = tuple[np.ndarray, np.ndarray]
"""A text's token ids and their character spans (``(n,)`` and ``(n, 2)`` integer arrays), without
special tokens, as the chunker counted them (:attr:`pipelines.records.Chunk.tokens`)."""


class TokenSink(Protocol):
    """Hears the token vectors of each text an embedder runs (one row per input token, special
    tokens included), with their character spans when the embedder has them at hand (else
    ``None``: the listener tokenises the text itself)."""

    def __call__(self, text: str, tokens: np.ndarray, offsets: Offsets | None = None, /) -> None: ...


@dataclass
class Embedder:
    """A loaded sentence-transformers model and what the chunker needs from it."""

    name: str
    backend: str
    model: Any
    batch_size: int

    @property
    def tokenizer(self) -> Any:
        return self.model.tokenizer

    @property
    def max_seq_length(self) -> int:
        return int(self.model.max_seq_length)

    @property
    def dim(self) -> int:
        getter = getattr(self.model, "get_embedding_dimension", None)
        return int(getter() if getter else self.model.get_sentence_embedding_dimension())

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        """Normalised float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode_document(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    @property
    def pools_by_mean(self) -> bool:
        """Whether a text's vector is the normalised mean of its token vectors (true of
        all-MiniLM-L6-v2): then :meth:`encode_documents_with_tokens` gives the same vectors."""
        modules = [type(m).__name__ for m in self.model]
        return (
            modules[:2] == ["Transformer", "Pooling"] and getattr(self.model[1], "pooling_mode", "") == "mean"
        )

    def encode_documents_with_tokens(self, texts: list[str], on_tokens: TokenSink) -> np.ndarray:
        """As :meth:`encode_documents` (for a model that :attr:`pools_by_mean`), from the same
        forward passes, and hand each text's token vectors (one row per input token, special
        tokens included) to ``on_tokens(text, rows)`` as they come, a few batches at a time, so
        they are never all held at once."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        step = self.batch_size * 4
        for start in range(0, len(texts), step):
            part = texts[start : start + step]
            outputs = self.model.encode_document(
                part, batch_size=self.batch_size, output_value="token_embeddings", show_progress_bar=False
            )
            rows = []
            for text, tokens in zip(part, outputs, strict=True):
                matrix = tokens.float().numpy()
                on_tokens(text, matrix)
                rows.append(matrix.mean(axis=0))
            pooled = np.asarray(rows, dtype=np.float32)
            parts.append(pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12))
        return np.concatenate(parts)

    def encode_chunks(
        self, texts: list[str], tokens: Sequence[Tokens | None], on_tokens: TokenSink | None
    ) -> np.ndarray:
        """Vectors of chunk texts whose tokens the chunker counted already (``tokens``, one per
        text, ``None`` where not known), with their token vectors handed to ``on_tokens`` when it
        is given and the model :attr:`pools_by_mean`. This embedder tokenises the texts itself;
        one that runs token ids directly (:class:`pipelines.embed_openvino.OpenVINOEmbedder`)
        runs the chunker's, so no chunk is tokenised twice."""
        if on_tokens is None or not self.pools_by_mean:
            return self.encode_documents(texts)
        return self.encode_documents_with_tokens(texts, on_tokens)

    def encode_query(self, text: str) -> np.ndarray:
        """The normalised vector of one search query."""
        vector = self.model.encode_query(
            [text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vector[0], dtype=np.float32)


class WordPieces:
    """all-MiniLM-L6-v2's tokenizer (``tokenizers`` alone, no truncation) behind the call the
    chunker makes of a Hugging Face fast tokenizer: what the multilingual model's chunks are
    counted in."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        self.backend_tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.backend_tokenizer.no_truncation()
        self.backend_tokenizer.no_padding()

    def __call__(
        self,
        texts: str | list[str],
        add_special_tokens: bool = True,
        return_offsets_mapping: bool = False,
        verbose: bool = True,
    ) -> dict[str, Any]:
        one = isinstance(texts, str)
        encoded = self.backend_tokenizer.encode_batch(
            [texts] if isinstance(texts, str) else list(texts), add_special_tokens=add_special_tokens
        )
        out: dict[str, Any] = {"input_ids": [e.ids for e in encoded]}
        if return_offsets_mapping:
            out["offset_mapping"] = [e.offsets for e in encoded]
        return {k: v[0] for k, v in out.items()} if one else out


def pools_by_mean_without_prompts(folder: Path) -> bool:
    """Whether the sentence-transformers model saved in ``folder`` gives the mean of its token
    vectors, normalised, with no prompt added: what the encoders that run an export directly
    (without sentence-transformers) reproduce exactly."""
    try:
        modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((folder / "modules.json").read_text())]
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
        prompts = json.loads((folder / "config_sentence_transformers.json").read_text()).get("prompts", {})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    if modules not in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"]):
        return False
    mean = pooling.get("pooling_mode_mean_tokens", pooling.get("pooling_mode") == "mean")
    return mean is True and not any(prompts.values())


def max_tokens(folder: Path) -> int:
    """The tokens the model saved in ``folder`` reads (sentence-transformers' ``max_seq_length``)."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        return int(json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"])
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        return min(int(json.loads((folder / "tokenizer_config.json").read_text())["model_max_length"]), 512)
    return 512
