"""The collections served and the retrieval over them: embed the question, retrieve.

A Searcher holds one snapshot of every open collection of a root (index/library.py):
name -> index. The answer service (answer/service.py) holds the Searcher it serves
from and swaps it for a new one when a collection is reloaded, created or deleted; a
request that already took the old Searcher finishes on the indexes it started with.

A search names the collections it covers (``collections``; None: every one served);
several are ranked as one index over their union would rank them (index/multi.py).
Passages carry the collection they came from. An index written before collections
existed is the collection ``default`` (index/collections.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.agreement import check_backend
from index.embedder import Embedder
from index.library import Library
from index.models import SearchHit
from index.multi import MultiRetriever
from index.retrieval import FusionSettings, Mode
from index.store import Index, IndexMissing, IndexUnavailable
from index.vector_store import BackendConfig

WARM_UP_QUERY = "index warm-up query"
# Passages retrieved per one kept, so that copies dropped still leave ``top_k``.
COPY_SPARE = 2


@dataclass
class Searcher:
    embedder: Embedder
    library: Library
    indexes: Mapping[str, Index]
    default_top_k: int = 5
    mode: Mode = "hybrid"
    fusion: FusionSettings = field(default_factory=FusionSettings)
    # Every collection that exists, including empty ones (nothing to search yet).
    names: tuple[str, ...] = ()

    @property
    def root(self) -> Path:
        return self.library.root

    @property
    def state(self) -> tuple[tuple[str, str], ...]:
        """(collection, generation) of everything served: equal states serve the same."""
        return tuple((n, ix.generation.name) for n, ix in sorted(self.indexes.items()))

    @property
    def index(self) -> Index:
        """The one index, for callers of a single collection (the single-index layout)."""
        if len(self.indexes) != 1:
            raise IndexUnavailable(
                f"{self.root} serves {len(self.indexes)} collections; name one (--collection)"
            )
        return next(iter(self.indexes.values()))

    @property
    def document_count(self) -> int:
        return sum(ix.document_count for ix in self.indexes.values())

    @property
    def chunk_count(self) -> int:
        return sum(ix.chunk_count for ix in self.indexes.values())

    def describe(self) -> str:
        return ", ".join(f"{n}:{g}" for n, g in self.state) or "no collection"

    def term_weights(self, terms: Iterable[str]) -> dict[str, float]:
        """Each term's IDF over every collection served (the keyword indexes' counts):
        how the answerers weigh a question's words."""
        wanted = list(terms)
        indexes = list(self.indexes.values())
        n = sum(len(ix.bm25) for ix in indexes)
        df: Counter[str] = Counter()
        for ix in indexes:
            df.update(ix.bm25.term_stats(wanted))
        return {t: float(np.log(1.0 + (n - df[t] + 0.5) / (df[t] + 0.5))) for t in wanted}

    def scoped(self, collections: Sequence[str] | None) -> Mapping[str, Index]:
        """The open indexes of ``collections`` (None: all); an empty or just-deleted
        collection contributes nothing."""
        if collections is None:
            return self.indexes
        return {n: self.indexes[n] for n in collections if n in self.indexes}

    def find_document(self, doc_id: str, collections: Sequence[str] | None) -> tuple[str, Any]:
        """(collection, stored document) of ``doc_id`` in the first of ``collections``
        holding it; (None, None) when none does."""
        for name, ix in sorted(self.scoped(collections).items()):
            doc = ix.document(doc_id)
            if doc is not None:
                return name, doc
        return "", None

    def search(
        self,
        query: str,
        top_k: int | None = None,
        filters: Mapping[str, Any] | None = None,
        mode: Mode | None = None,
        collections: Sequence[str] | None = None,
    ) -> list[SearchHit]:
        mode = mode or self.mode
        # Keyword search needs no embedding: skip the model's ~10 ms.
        vector = None if mode == "bm25" else self.embedder.encode_query(query)
        retriever = MultiRetriever(self.scoped(collections), self.fusion)
        return retriever.search(query, vector, top_k or self.default_top_k, filters, mode)

    def retrieve(
        self,
        question: str,
        top_k: int | None = None,
        mode: Mode | None = None,
        collections: Sequence[str] | None = None,
    ) -> tuple[np.ndarray, list[SearchHit]]:
        """The question's vector (answerers reuse it) and the passages to answer from.

        A passage whose text an earlier one already has (the same article in the
        collection twice, a syndicated copy) takes no place: copies would crowd out
        the other articles an answer could come from."""
        vector = self.embedder.encode_query(question)
        retriever = MultiRetriever(self.scoped(collections), self.fusion)
        k = top_k or self.default_top_k
        hits = retriever.search(question, vector, k * COPY_SPARE, None, mode or self.mode)
        return vector, without_copies(hits)[:k]

    def close(self) -> None:
        for ix in self.indexes.values():
            ix.close()

    @classmethod
    def from_library(
        cls,
        library: Library,
        embedder: Embedder,
        *,
        top_k: int = 5,
        mode: Mode = "hybrid",
        fusion: FusionSettings | None = None,
    ) -> Searcher:
        """What the library has open now. Raises IndexMissing when the root holds no
        collection, IndexUnavailable when none of them can be read."""
        indexes, names = library.snapshot(), tuple(library.names())
        if not names:
            raise IndexMissing(
                f"no index at {library.root}: run `citeline ingest PATH --index "
                f"{library.root} [--collection NAME]` first"
            )
        if library.errors and not indexes:
            raise IndexUnavailable("; ".join(f"{n}: {e}" for n, e in library.errors.items()))
        return cls(embedder, library, indexes, top_k, mode, fusion or FusionSettings(), names)

    @classmethod
    def open(
        cls,
        index_dir: Path | str,
        *,
        embedder: Embedder | None = None,
        top_k: int = 5,
        mode: Mode = "hybrid",
        fusion: FusionSettings | None = None,
        backend: BackendConfig | None = None,
    ) -> Searcher:
        """Every collection under ``index_dir`` (an index of the single-index layout is
        the collection ``default``): the indexes first (fails fast), then the model."""
        root = Path(index_dir)
        if not root.is_dir():
            raise IndexMissing(
                f"no index at {root}: run `citeline ingest PATH --index {root}` first"
            )
        library = Library(root, backend)
        library.refresh()
        if library.errors and not library.snapshot():
            raise IndexUnavailable("; ".join(e for e in library.errors.values()))
        embedder = embedder or Embedder()
        library.check = checker(embedder)
        for name, ix in library.snapshot().items():
            checker(embedder)(name, ix)
        return cls.from_library(library, embedder, top_k=top_k, mode=mode, fusion=fusion)


def checker(embedder: Embedder) -> Callable[[str, Index], None]:
    """What every collection must pass before it is served: the model it was built
    with is the one loaded, and a query runs through it."""

    def check(name: str, index: Index) -> None:
        if index.manifest.embedder != embedder.name:
            raise IndexUnavailable(
                f"collection {name} ({index.root}) was built with {index.manifest.embedder}, "
                f"but this process runs {embedder.name}; re-ingest, or restart with the "
                "matching model"
            )
        # Vectors of another runtime join only when measured to agree (index/agreement.py).
        check_backend(index, embedder.backend, embedder.encode)
        # Catches a generation that opens but cannot search before anyone sees it.
        MultiRetriever({name: index}).search(WARM_UP_QUERY, embedder.encode_query(WARM_UP_QUERY), 1)

    return check


def copy_key(hit: SearchHit) -> str:
    """What two copies of a passage share: its text, whitespace aside."""
    return " ".join(hit.passage.text.split())


def without_copies(hits: Iterable[SearchHit]) -> list[SearchHit]:
    """``hits`` in order, each passage text kept once (its best-ranked copy)."""
    seen: set[str] = set()
    out: list[SearchHit] = []
    for hit in hits:
        key = copy_key(hit)
        if key not in seen:
            seen.add(key)
            out.append(hit)
    return out
