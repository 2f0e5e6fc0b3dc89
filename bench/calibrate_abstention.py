"""Calibrate the extractive answerer's abstention threshold.

    .venv/bin/python bench/calibrate_abstention.py [--bbc-limit N]

Answerable questions: the TIME-1963 topic queries over the TIME-1963 index, and
BBC headlines (as questions) over the BBC index. Unanswerable ones: each set
asked of the other corpus (1963 world affairs vs 2004-05 UK news), plus general
questions neither covers. Prints the best-sentence score distributions, the
threshold that maximises balanced accuracy, and the rates at the configured one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from answer.extractive import ExtractiveAnswerer, ExtractiveSettings  # noqa: E402
from index.embedder import Embedder  # noqa: E402
from index.store import Index  # noqa: E402
from ingest.pipeline import Ingestor  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
GENERAL = [
    "Who won the 2010 FIFA World Cup?",
    "How do I bake sourdough bread?",
    "What is the boiling point of water at sea level?",
    "How many moons does Jupiter have?",
    "What is the capital of Australia?",
    "How do I reverse a linked list in Python?",
    "What causes the northern lights?",
    "Who painted the Mona Lisa?",
    "What is the best way to train a puppy?",
    "How does photosynthesis work?",
    "When was the first iPhone released?",
    "What is the recommended daily intake of vitamin C?",
    "How tall is Mount Everest?",
    "Who wrote Pride and Prejudice?",
    "What is quantum entanglement?",
    "How do vaccines train the immune system?",
]


def scores(
    answerer: ExtractiveAnswerer, index: Index, embedder: Embedder, qs: list[str]
) -> list[float]:
    out = []
    for q in qs:
        v = embedder.encode_query(q)
        out.append(answerer.run(q, v, index.search(v, 5)).confidence)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bbc-limit", type=int, default=400)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="citeline-calib-"))
    embedder = Embedder()
    bbc_lines = (SHARED / "bbc" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    bbc_lines = bbc_lines[:: max(1, len(bbc_lines) // args.bbc_limit)][: args.bbc_limit]
    (work / "bbc.jsonl").write_text("\n".join(bbc_lines) + "\n", encoding="utf-8")
    Ingestor(embedder, work / "time").run([SHARED / "time1963" / "corpus.jsonl"])
    Ingestor(embedder, work / "bbc").run([work / "bbc.jsonl"])
    time_qs = [json.loads(line)["text"] for line in (SHARED / "time1963" / "queries.jsonl").open()]
    bbc_qs = [json.loads(line)["title"] + "?" for line in bbc_lines[:80]]
    answerer = ExtractiveAnswerer(embedder, ExtractiveSettings(abstain_below=-1.0))
    with Index.open(work / "time") as t_idx, Index.open(work / "bbc") as b_idx:
        pos = scores(answerer, t_idx, embedder, time_qs) + scores(answerer, b_idx, embedder, bbc_qs)
        neg = scores(answerer, t_idx, embedder, bbc_qs + GENERAL) + scores(
            answerer, b_idx, embedder, time_qs + GENERAL
        )

    def rates(th: float) -> tuple[float, float]:
        return sum(s >= th for s in pos) / len(pos), sum(s < th for s in neg) / len(neg)

    best = max((t / 100 for t in range(10, 90)), key=lambda th: sum(rates(th)))
    configured = ExtractiveSettings().abstain_below

    def describe(th: float) -> str:
        a, u = rates(th)
        return f"threshold {th:.2f}: answers {a:.1%} of answerable, abstains on {u:.1%} of the rest"

    print(f"answerable   n={len(pos)}  median {statistics.median(pos):.3f}")
    print(f"unanswerable n={len(neg)}  median {statistics.median(neg):.3f}")
    for th in (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7):
        print(describe(th))
    print(f"best balanced {describe(best)}")
    print(f"configured    {describe(configured)}")


if __name__ == "__main__":
    main()
