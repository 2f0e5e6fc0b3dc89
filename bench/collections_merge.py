"""Does searching two collections give the ranking of one index over both?

Splits the BBC corpus (../shared/data/bbc/corpus.jsonl, embedded once into one
index) into two halves by alternating article ids, each half a collection holding
exactly the vectors of the whole, and runs every query three ways:

- ``one index``: index/retrieval.py over the whole corpus (the reference);
- ``union fusion``: index/multi.py over the two halves (global BM25 IDF, joint rescaling);
- ``naive merge``: each half's own hybrid search, merged by their fused scores.

Queries are BBC titles (read at run time). Reports the share of queries whose top-10
passages are identical in order, identical as a set, and the mean overlap.

    .venv/bin/python bench/collections_merge.py --index var/bench/bbc-full --queries 600
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.embedder import Embedder  # noqa: E402
from index.multi import MultiRetriever  # noqa: E402
from index.retrieval import Retriever  # noqa: E402
from index.store import Index  # noqa: E402
from tests.collections_helpers import bbc_articles, subset_index  # noqa: E402


def key(hit):  # type: ignore[no-untyped-def]
    return (hit.passage.doc_id, hit.passage.start, hit.passage.end)


def tied(hits):  # type: ignore[no-untyped-def]
    """The ranking with exact ties (equal scores to 1e-5) in a fixed order."""
    return sorted((-round(h.score, 5), key(h)) for h in hits)


def split(whole: Path, out: Path, parts: int) -> list[Path]:
    """The whole index cut into ``parts`` collections (cached in ``out``)."""
    with Index.open(whole) as ix:
        ids = sorted(ix.bm25.doc_ids)
        generation = ix.generation.name
    stamp = out / f".from-{generation}-{parts}"
    paths = [out / f"part{n:02d}" for n in range(parts)]
    if not stamp.exists():
        import shutil

        shutil.rmtree(out, ignore_errors=True)
        for n, path in enumerate(paths):
            subset_index(whole, path, {d for i, d in enumerate(ids) if i % parts == n})
        stamp.touch()
    return paths


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--index", type=Path, default=ROOT / "var" / "bench" / "bbc-full")
    p.add_argument("--queries", type=int, default=600, help="BBC titles used as queries")
    p.add_argument("--k", type=int, default=10)
    args = p.parse_args()

    halves = split(args.index, args.index.parent / "bbc-halves", 2)
    titles = [r["title"] for r in bbc_articles()]
    step = max(1, len(titles) // args.queries)
    queries = titles[::step][: args.queries]
    embedder = Embedder(threads=1)
    rows = {"union fusion": [0, 0, 0, 0.0], "naive merge": [0, 0, 0, 0.0]}
    started = time.perf_counter()
    with Index.open(args.index) as whole, Index.open(halves[0]) as a, Index.open(halves[1]) as b:
        one = Retriever(whole)
        union = MultiRetriever({"a": a, "b": b})
        own = [Retriever(a), Retriever(b)]
        for q in queries:
            v = embedder.encode_query(q)
            reference = one.search(q, v, args.k)
            expected = [key(h) for h in reference]
            naive = sorted(
                (h for r in own for h in r.search(q, v, args.k)), key=lambda h: -h.score
            )[: args.k]
            for name, hits in (
                ("union fusion", union.search(q, v, args.k)),
                ("naive merge", naive),
            ):
                got = [key(h) for h in hits]
                rows[name][0] += got == expected
                # The corpus holds duplicate articles under different ids: their passages
                # tie exactly, and which comes first is arbitrary in either search.
                rows[name][1] += tied(hits) == tied(reference)
                rows[name][2] += set(got) == set(expected)
                rows[name][3] += len(set(got) & set(expected)) / max(1, len(expected))
        docs = whole.document_count
        split_docs = (a.document_count, b.document_count)
    n = len(queries)
    print(
        f"\n{docs} BBC articles split {split_docs[0]} + {split_docs[1]}; {n} title queries; "
        f"top-{args.k} hybrid passages; {time.perf_counter() - started:.0f} s\n"
    )
    k = args.k
    print(
        f"| merging | same top-{k}, same order | same top-{k}, order up to exact ties | "
        f"same top-{k} as a set | mean overlap |"
    )
    print("|---|---|---|---|---|")
    for name, (same, same_ties, same_set, overlap) in rows.items():
        print(
            f"| {name} | {same / n:.1%} | {same_ties / n:.1%} | {same_set / n:.1%} | "
            f"{overlap / n:.1%} |"
        )


if __name__ == "__main__":
    main()
