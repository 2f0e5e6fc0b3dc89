"""May an index built with one embedder backend be searched or extended with another?

Only when their vectors agree: the stored vectors of a sample of passages are
compared with the running embedder's vectors of the same texts. fp32 runtimes on
the same weights agree to a cosine of ~0.9999999 (bench/embed_backends.py); an
int8 model or a broken export would not, and would quietly rank passages
differently from the index it searches, so it is refused like a different model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from index.store import Index, IndexUnavailable

log = logging.getLogger("citeline.embedder")

MIN_AGREEMENT = 0.999
SAMPLE = 32
DEFAULT_BACKEND = "torch"  # indexes written before backends were recorded


def recorded_backend(index: Index) -> str:
    return index.manifest.embed_backend or DEFAULT_BACKEND


def vector_agreement(
    index: Index, encode: Callable[[list[str]], np.ndarray], sample: int = SAMPLE
) -> float:
    """The lowest cosine between stored and freshly embedded vectors of a passage sample."""
    ids = index.sample_chunk_ids(sample)
    if not ids:
        return 1.0
    passages = index.passages(ids)
    ids = [i for i in ids if i in passages]
    stored = np.asarray(index.vectors(ids), dtype=np.float32)
    # Decoded IVF-SQ8 vectors are approximate and not exactly unit length.
    stored /= np.clip(np.linalg.norm(stored, axis=1, keepdims=True), 1e-12, None)
    fresh = encode([passages[i].text for i in ids])
    return float(np.min(np.sum(stored * fresh, axis=1)))


def check_backend(
    index: Index,
    backend: str,
    encode: Callable[[list[str]], np.ndarray],
    sample: int = SAMPLE,
) -> float | None:
    """Raise IndexUnavailable unless ``backend`` may read ``index``; returns the measured
    agreement (None when the backends are the same and nothing was measured)."""
    built = recorded_backend(index)
    if built == backend or index.chunk_count == 0:
        return None
    agreement = vector_agreement(index, encode, sample)
    if agreement < MIN_AGREEMENT:
        raise IndexUnavailable(
            f"{index.root} was embedded with the {built} backend, whose vectors differ from "
            f"the {backend} backend's (lowest cosine {agreement:.4f} on {sample} passages, "
            f"{MIN_AGREEMENT} needed); set CITELINE_EMBED_BACKEND={built} or re-ingest into "
            "a new --index folder"
        )
    log.info(
        "embedder: %s was embedded with %s; %s agrees (lowest cosine %.6f on %d passages)",
        index.root,
        built,
        backend,
        agreement,
        sample,
    )
    return agreement
