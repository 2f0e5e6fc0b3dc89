"""The FAISS structure that holds passage vectors, chosen by corpus size.

- ``flat``: exact inner product (``IndexFlatIP`` behind an id map). Exact and
  fast enough up to a few hundred thousand passages (about 1.5 KB a passage).
- ``ivf-sq``: an inverted file over k-means cells whose vectors are stored
  with scalar quantisation: fp16 by default (0.75 KB a passage, recall limited
  only by how many cells are searched) or 8-bit (0.4 KB, but on dense
  neighbourhoods its rounding alone cost ~1.5 points of recall@10 in
  bench/scale.py). Searching ``nprobe`` of ``nlist`` cells keeps recall@10
  against exact search >= 0.98 while a million passages' vectors stay under
  1 GB (bench/scale.py measures it).

Both support deleting by id, which incremental ingest needs; HNSW does not
(bench/scale.py measures it for comparison only). The writer calls
:func:`fit` before each commit, so an index changes structure when it crosses
``exact_max`` and its cells are retrained once it has grown well past the
corpus they were trained on.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import faiss
import numpy as np

FLAT = "flat"
IVF_SQ = "ivf-sq"
_QUANTIZERS = {
    "fp16": faiss.ScalarQuantizer.QT_fp16,
    "8bit": faiss.ScalarQuantizer.QT_8bit,
}


@dataclass(frozen=True)
class VectorSettings:
    # Passages up to which search stays exact; above it the index is compressed.
    exact_max: int = 100_000
    # How vectors are stored in the cells: "fp16" or "8bit".
    quantizer: str = "fp16"
    # Cells: nlist = clip(cells_factor * sqrt(n), 16, 65536).
    cells_factor: float = 1.0
    # Fraction of the cells searched per query (at least min_nprobe cells).
    probe_fraction: float = 0.06
    min_nprobe: int = 48
    # Vectors sampled to train the cells: k-means needs ~40 per cell, not all.
    train_per_cell: int = 40
    # Retrain once the index holds this many times the passages it was trained on.
    retrain_growth: float = 4.0
    seed: int = 1234

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def new_flat(dimension: int) -> faiss.Index:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


def kind_of(index: faiss.Index) -> str:
    return IVF_SQ if isinstance(faiss.downcast_index(index), faiss.IndexIVF) else FLAT


def describe(index: faiss.Index, trained_on: int = 0) -> dict[str, Any]:
    """What the manifest records about the structure (for humans and for ``fit``)."""
    inner = faiss.downcast_index(index)
    if isinstance(inner, faiss.IndexIVF):
        sq = faiss.downcast_index(inner).sq.qtype  # type: ignore[attr-defined]
        names = {v: k for k, v in _QUANTIZERS.items()}
        return {
            "kind": IVF_SQ,
            "quantizer": names.get(sq, str(sq)),
            "nlist": int(inner.nlist),
            "nprobe": int(inner.nprobe),
            "trained_on": trained_on,
        }
    return {"kind": FLAT}


def all_vectors(index: faiss.Index) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of everything stored; IVF-SQ8 vectors come back decoded."""
    inner = faiss.downcast_index(index)
    if isinstance(inner, faiss.IndexIVF):
        invlists = inner.invlists
        assert invlists is not None
        ids_parts: list[np.ndarray] = []
        for cell in range(inner.nlist):
            size = invlists.list_size(cell)
            if size:
                ptr = invlists.get_ids(cell)
                ids_parts.append(faiss.rev_swig_ptr(ptr, size).copy())
        ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, dtype=np.int64)
    else:
        ids = faiss.vector_to_array(index.id_map).astype(np.int64)  # type: ignore[attr-defined]
    return ids, reconstruct(index, ids)


def reconstruct(index: faiss.Index, ids: np.ndarray | list[int]) -> np.ndarray:
    if len(ids) == 0:
        return np.zeros((0, index.d), dtype=np.float32)
    return np.asarray(index.reconstruct_batch(np.asarray(ids, dtype=np.int64)))


def _build_ivf(
    ids: np.ndarray, vectors: np.ndarray, settings: VectorSettings
) -> faiss.IndexIVFScalarQuantizer:
    n, dim = vectors.shape
    nlist = int(min(65536, max(16, settings.cells_factor * math.sqrt(n))))
    quantizer = faiss.IndexFlatIP(dim)
    if settings.quantizer not in _QUANTIZERS:
        raise ValueError(f"quantizer must be one of {', '.join(_QUANTIZERS)}")
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, nlist, _QUANTIZERS[settings.quantizer], faiss.METRIC_INNER_PRODUCT
    )
    rng = np.random.default_rng(settings.seed)
    sample = min(n, nlist * settings.train_per_cell)
    train = vectors[np.sort(rng.choice(n, size=sample, replace=False))]
    index.train(np.ascontiguousarray(train))
    # A hash table from id to slot lets deletes and reconstruct work by passage id.
    index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
    index.nprobe = max(settings.min_nprobe, math.ceil(settings.probe_fraction * nlist))
    index.add_with_ids(np.ascontiguousarray(vectors), ids)
    return index


def build(ids: np.ndarray, vectors: np.ndarray, settings: VectorSettings) -> faiss.Index:
    """A fresh structure for these vectors, chosen by their count."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if len(ids) <= settings.exact_max:
        index = new_flat(vectors.shape[1])
        if len(ids):
            index.add_with_ids(vectors, ids)
        return index
    return _build_ivf(ids, vectors, settings)


def fit(index: faiss.Index, settings: VectorSettings, trained_on: int) -> tuple[faiss.Index, int]:
    """The structure to commit and the corpus size its cells were trained on:
    ``index`` itself, or a rebuild when its size calls for another kind or its
    cells were trained on a much smaller corpus (``trained_on``, from the manifest)."""
    n = int(index.ntotal)
    kind = kind_of(index)
    if kind == FLAT and n <= settings.exact_max:
        return index, 0
    # Hysteresis: an index hovering around the limit does not flip every run.
    keep_ivf = settings.exact_max // 2 < n <= settings.retrain_growth * trained_on
    if kind == IVF_SQ and keep_ivf:
        return index, trained_on
    ids, vectors = all_vectors(index)
    rebuilt = build(ids, vectors, settings)
    return rebuilt, (n if kind_of(rebuilt) == IVF_SQ else 0)


def search_params(
    index: faiss.Index, selector: faiss.IDSelector | None
) -> faiss.SearchParameters | None:
    """Search parameters that keep the stored nprobe (a params object would reset it)."""
    inner = faiss.downcast_index(index)
    if isinstance(inner, faiss.IndexIVF):
        if selector is None:
            return faiss.SearchParametersIVF(nprobe=int(inner.nprobe))  # type: ignore[call-arg]
        return faiss.SearchParametersIVF(sel=selector, nprobe=int(inner.nprobe))  # type: ignore[call-arg]
    if selector is None:
        return None
    return faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
