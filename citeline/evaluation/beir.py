"""Retrieval evaluation on BEIR-format folders.

A BEIR folder holds ``corpus.jsonl`` (``_id``, ``title``, ``text``),
``queries.jsonl`` (``_id``, ``text``) and ``qrels/<split>.tsv`` (query-id,
corpus-id, score, with a header line). The corpus goes through the product's
own ingest (readers, cleaning, chunking, embedding), so the numbers describe
what the server would return, not a lab setup.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from citeline.evaluation.jsonl import records
from citeline.evaluation.metrics import evaluate_run, percentile
from index.embedder import Embedder
from index.retrieval import FusionSettings, Mode, Retriever
from index.store import CURRENT, Index
from ingest.chunker import ChunkerSettings
from ingest.pipeline import Ingestor, IngestSummary

# Documents ranked per query: enough for Recall@100.
DEPTH = 100
# Passages a timed query asks for, as a client of /v1/search would.
TIMED_TOP_K = 10


class BeirError(Exception):
    """The folder is not a readable BEIR data set; the message says what is wrong."""


@dataclass(frozen=True)
class BeirData:
    corpus: Path
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load_beir(folder: Path, split: str = "test") -> BeirData:
    corpus, queries_path = folder / "corpus.jsonl", folder / "queries.jsonl"
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for path in (corpus, queries_path, qrels_path):
        if not path.is_file():
            raise BeirError(
                f"{path} is missing: a BEIR folder has corpus.jsonl, queries.jsonl and "
                f"qrels/{split}.tsv"
            )
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            parts = line.strip().split("\t") if "\t" in line else line.split()
            if not parts or (n == 1 and not parts[-1].lstrip("-").isdigit()):
                continue  # blank line or the header
            if len(parts) < 3 or not parts[-1].lstrip("-").isdigit():
                raise BeirError(f"{qrels_path}:{n}: expected query-id, corpus-id, score")
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[-1])
    queries: dict[str, str] = {}
    for n, record in records(queries_path, BeirError):
        qid, text = record.get("_id"), record.get("text")
        if qid is None or not isinstance(text, str):
            raise BeirError(f"{queries_path}:{n}: a query needs '_id' and 'text'")
        if str(qid) in qrels and text.strip():
            queries[str(qid)] = text.strip()
    if not queries:
        raise BeirError(f"no query in {queries_path} has judgments in {qrels_path}")
    return BeirData(corpus, queries, qrels)


@dataclass
class ModeResult:
    mode: str
    ndcg_10: float
    recall_10: float
    recall_100: float
    mrr_10: float
    p50_ms: float
    p99_ms: float
    queries: int
    runs: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("runs")
        return data


@contextmanager
def prepared_index(
    data: BeirData,
    embedder: Embedder,
    index_dir: Path | None,
    chunker: ChunkerSettings | None = None,
    progress: Callable[[int, int, int], None] | None = None,
) -> Iterator[tuple[Path, IngestSummary | None]]:
    """An index of the corpus: ``index_dir`` as it is when it holds one already,
    else ingested there (kept for reuse) or into a temporary folder (deleted)."""
    if index_dir is not None and (index_dir / CURRENT).exists():
        yield index_dir, None
        return
    with tempfile.TemporaryDirectory(prefix="citeline-eval-") as tmp:
        target = index_dir or Path(tmp) / "index"
        # A BEIR corpus is one large jsonl file; the per-file cap guards uploads, not this.
        size = data.corpus.stat().st_size + 1
        summary = Ingestor(embedder, target, chunker, max_file_bytes=size).run(
            [data.corpus], progress=progress
        )
        if not summary.committed:
            raise BeirError(f"no document of {data.corpus} could be ingested")
        yield target, summary


def evaluate(
    index: Index,
    embedder: Embedder,
    data: BeirData,
    modes: Sequence[Mode],
    fusion: FusionSettings | None = None,
) -> list[ModeResult]:
    """Score every judged query in every mode.

    Latency is that of a search request for the top 10 passages: embedding
    the query (not in bm25 mode) plus retrieval and reading passage text. The
    ranking scored is the same retrieval taken to 100 documents."""
    retriever = Retriever(index, fusion)
    results: list[ModeResult] = []
    for mode in modes:
        run: dict[str, list[str]] = {}
        latencies: list[float] = []
        for qid, text in data.queries.items():
            started = time.perf_counter()
            vector = None if mode == "bm25" else embedder.encode_query(text)
            retriever.search(text, vector, TIMED_TOP_K, None, mode)
            latencies.append((time.perf_counter() - started) * 1000)
            run[qid] = retriever.rank_documents(text, vector, DEPTH, mode)
        scores = evaluate_run(run, data.qrels)
        results.append(
            ModeResult(
                mode=mode,
                ndcg_10=scores["ndcg@10"],
                recall_10=scores["recall@10"],
                recall_100=scores["recall@100"],
                mrr_10=scores["mrr@10"],
                p50_ms=percentile(latencies, 50),
                p99_ms=percentile(latencies, 99),
                queries=int(scores["queries"]),
                runs=run,
            )
        )
    return results
