"""Follow-ups as a new user asks them: conversations typed into the chat, each
answer shown before the next question is asked.

    .venv/bin/python bench/live_follow_ups.py [--index DIR] [--code DIR] [--verbose] [--json]

``citeline eval chat`` replays human conversations whose history holds the
*gold* answers. Here the history is what Citeline itself answered, as in the
chat page, so a follow-up stands on the answers the user actually saw. Each
conversation in ``bench/live_follow_ups.jsonl`` is a list of ``[question,
expected]`` turns over BBC News articles (``../shared/data/bbc``) and the seed
article; ``expected`` is a short fact, alternatives split by ``|``. A turn counts
when the answer does not abstain and a cited quote contains one alternative.
Each first question is also asked at the end of the conversation before it (a
topic switch), reported as its own row.

The questions were written from randomly drawn articles before any version ran
on them, in nine rounds of six conversations (field ``round``, reported apart).
None is held out any more: round 1 showed the failures that facets and bare
question forms fix ("And per shopper?"), round 2 one regression that was then
mended ("What was the score?"), round 3 (first run on cf4b4ef: follow-ups 8/19)
the carried words that must say which article, not which sentence ("Where was
the ceremony?"), round 4 (first run on 2115be4: 11/22) questions that read as
standalone but lean on the conversation ("How long does Labour officially
have?"), mended in 34a7673 (15/22), round 5 was first run on 34a7673
(20/25; 2115be4: 19/25), and round 6 (``random.Random(20261212)``) on 8062680
(20/29; 15e122f: 20/29, 2115be4: 19/29), round 7 (``random.Random(20261207)``,
articles already in earlier rounds skipped) on 68d6b91 (19/27; 44bc985: 18/27,
2115be4: 17/27), round 8 (``random.Random(20261208)``, articles already used
skipped) on 682c412 (20/30; 2115be4: 17/30), round 9 (``random.Random(20261209)``,
articles already used skipped) on 87dcf17 (17/30). Add a fresh round before
tuning on these.
``--code DIR`` runs another checkout (e.g. ``git worktree add /tmp/before
<rev>``) over the same index for a before/after in one run. The first run
indexes BBC and the seed into ``--index`` (a few minutes); later runs reuse it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_args.add_argument("--index", type=Path, default=ROOT / "var" / "bench" / "live-follow-ups")
_args.add_argument("--code", type=Path, default=ROOT, help="checkout whose answer path runs")
_args.add_argument("--verbose", action="store_true", help="print every turn")
_args.add_argument("--json", action="store_true")
ARGS = _args.parse_args()
sys.path.insert(0, str(ARGS.code.resolve()))
if ARGS.code.resolve() != ROOT:
    # An editable install of this checkout would still win over sys.path.
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]

from answer.models import Answer  # noqa: E402
from answer.service import AnswerService  # noqa: E402
from citeline.settings import LLMSettings, Settings  # noqa: E402
from index.embedder import Embedder  # noqa: E402
from ingest.pipeline import Ingestor  # noqa: E402

SHARED = ROOT.parent / "shared"
CONVERSATIONS = ROOT / "bench" / "live_follow_ups.jsonl"


def build_index(path: Path) -> None:
    if (path / "CURRENT").exists():
        return
    print(f"indexing BBC and the seed into {path} (once)...", file=sys.stderr)
    Ingestor(Embedder(), path).run(
        [SHARED / "corpus" / "seed", SHARED / "data" / "bbc" / "corpus.jsonl"]
    )


def main() -> None:
    build_index(ARGS.index)
    settings = Settings(
        _env_file=None, index=ARGS.index, llm=LLMSettings(_env_file=None, base_url=None)
    )
    service = AnswerService.from_settings(settings)
    totals: dict[str, list[int]] = {}
    seconds: list[float] = []  # per follow-up turn, condensing and both retrievals included

    def count(key: str, hit: bool) -> None:
        totals.setdefault(key, [0, 0])
        totals[key][0] += hit
        totals[key][1] += 1

    def ask(messages: list[dict[str, str]], expected: str) -> tuple[str, Answer, bool]:
        standalone, answer = service.chat_sync(messages)
        quotes = " ".join(c.quote for c in answer.citations).lower()
        hit = not answer.abstained and any(alt.lower() in quotes for alt in expected.split("|"))
        return standalone, answer, hit

    previous: list[dict[str, str]] = []  # the conversation before, answers included
    try:
        for line in CONVERSATIONS.read_text().splitlines():
            if not line.strip():
                continue
            conversation = json.loads(line)
            messages: list[dict[str, str]] = []
            for n, (question, expected) in enumerate(conversation["turns"]):
                messages.append({"role": "user", "content": question})
                started = time.perf_counter()
                standalone, answer, hit = ask(messages, expected)
                if n:
                    seconds.append(time.perf_counter() - started)
                kind = "first question" if n == 0 else "follow-up"
                count(f"round {conversation['round']}, {kind}", hit)
                if ARGS.verbose:
                    mark = "+" if hit else "-"
                    print(f"{mark} {question!r} -> {standalone!r}\n    {answer.answer[:160]!r}")
                messages.append({"role": "assistant", "content": answer.answer})
                if n == 0 and previous:
                    # The same first question as a topic switch at the end of the
                    # conversation before: the old subject must not hold it back.
                    count(
                        "first question after another conversation",
                        ask([*previous, {"role": "user", "content": question}], expected)[2],
                    )
            previous = messages
    finally:
        service.close()
    rows = {k: {"hits": h, "turns": t, "share": round(h / t, 3)} for k, (h, t) in totals.items()}
    p50 = round(1000 * statistics.median(seconds), 1)
    if ARGS.json:
        print(json.dumps({"code": str(ARGS.code), "rows": rows, "follow_up_p50_ms": p50}, indent=2))
        return
    print(f"\ncode: {ARGS.code}\n| turns | answered with the expected fact |\n|---|---:|")
    for key, row in rows.items():
        print(f"| {key} | {row['hits']}/{row['turns']} ({row['share']:.2f}) |")
    print(f"\nfollow-up turns: p50 {p50} ms (one process, after a first warm-up turn)")


if __name__ == "__main__":
    main()
