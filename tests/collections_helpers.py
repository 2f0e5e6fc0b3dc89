"""Building collections for tests and benchmarks without embedding twice.

``subset_index`` copies an ingested index and deletes the articles not wanted,
through the real writer (index/store.py), so a corpus split into collections is
embedded once and every piece holds exactly the vectors one index over the whole
corpus holds.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from index.store import IndexWriter, Manifest, _current_generation
from index.vector_store import BackendConfig

ROOT = Path(__file__).resolve().parents[1]
BBC = ROOT.parent / "shared" / "data" / "bbc" / "corpus.jsonl"


def bbc_articles(limit: int | None = None) -> Iterator[dict[str, str]]:
    """BBC articles read from the shared corpus at run time (never stored here)."""
    with BBC.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if limit is not None and n >= limit:
                return
            yield json.loads(line)


def write_jsonl(path: Path, rows: Iterable[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    return path


def subset_index(source: Path, target: Path, keep: set[str]) -> int:
    """Copy the index at ``source`` to ``target`` keeping only documents in ``keep``;
    returns how many documents it holds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".lock"))
    return keep_only(target, keep)


def keep_only(target: Path, keep: set[str]) -> int:
    """A new generation of the index at ``target`` holding only documents in ``keep``."""
    gen = _current_generation(target)
    assert gen is not None, f"{target} holds no index"
    m = Manifest.load(gen / "manifest.json")
    writer = IndexWriter(
        target,
        embedder=m.embedder,
        dimension=m.dimension,
        chunker=m.chunker,
        backend=BackendConfig(),
    )
    with writer:
        for doc_id in writer.document_index():
            if doc_id not in keep:
                writer.delete(doc_id)
        return writer.commit().documents
