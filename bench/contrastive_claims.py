"""Does citation verification catch invented specifics? A contrastive set built
from the articles themselves.

    .venv/bin/python bench/contrastive_claims.py [--per-corpus N] [--code DIR] [--json]

For sentences of the seed article, BBC articles and xquad-dev articles, the
claim is checked against the article's paragraph by the real CitationVerifier
(real embedder), the way a generated answer sentence citing [1] is checked:

- kept (must stay supported): the sentence itself; paraphrases that keep its
  substance: a leading "According to the article," frame, its first clause,
  two coordinated names swapped in order, a word replaced by a common synonym,
  a parenthesis dropped;
- altered (must be flagged): a name replaced by another name from the same
  article, a number changed, a date changed (day, month or year), a verb
  replaced by one of another relation (signed -> rejected), an invented clause
  with words from another article appended.

Prints, per corpus, the share flagged of each kind. ``--code DIR`` runs the
verifier of another checkout (e.g. an export of main) for before/after in one run.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_args.add_argument("--per-corpus", type=int, default=120, help="sentences per corpus")
_args.add_argument("--code", type=Path, default=ROOT, help="checkout whose verifier runs")
_args.add_argument("--seed", type=int, default=7)
_args.add_argument("--json", action="store_true")
_args.add_argument("--show-missed", action="store_true", help="print altered claims not flagged")
ARGS = _args.parse_args()
sys.path.insert(0, str(ARGS.code.resolve()))
if ARGS.code.resolve() != ROOT:
    # An editable install of this checkout would still win over sys.path.
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]

from index.embedder import Embedder  # noqa: E402
from index.models import Passage, SearchHit  # noqa: E402
from index.text import split_sentences  # noqa: E402

if (ARGS.code / "answer" / "citations.py").exists():
    from answer.citations import CitationVerifier
else:  # a checkout from before the answer/ package (--code)
    from server.citations import CitationVerifier  # type: ignore[no-redef]

SHARED = ROOT.parent / "shared"

_MONTHS = (
    "January February March April May June July August September October November December"
).split()
# Relations and their opposites or neighbours: the altered verb asserts another event.
_RELATION_SWAPS = {
    "signed": "rejected",
    "increased": "reduced",
    "rose": "fell",
    "fell": "rose",
    "won": "lost",
    "lost": "won",
    "bought": "sold",
    "sold": "bought",
    "opened": "closed",
    "closed": "opened",
    "joined": "left",
    "left": "joined",
    "supported": "opposed",
    "opposed": "supported",
    "accepted": "refused",
    "approved": "blocked",
    "began": "ended",
    "started": "stopped",
    "created": "abolished",
    "built": "demolished",
    "discovered": "lost",
    "founded": "dissolved",
    "attacked": "defended",
    "increase": "reduction",
    "growth": "decline",
    "agreed": "refused",
    "announced": "denied",
    "received": "paid",
    "praised": "criticised",
    "allowed": "banned",
    "included": "excluded",
    "arrived": "departed",
    "married": "divorced",
    "entered": "left",
    "gained": "lost",
    "higher": "lower",
    "lower": "higher",
    "more": "fewer",
    "first": "last",
    "largest": "smallest",
    "before": "after",
    "after": "before",
}
_SYNONYMS = {
    "bought": "purchased",
    "began": "started",
    "big": "large",
    "help": "assist",
    "talks": "discussions",
    "deal": "agreement",
    "visit": "trip",
    "country": "nation",
    "important": "significant",
    "firm": "company",
    "located": "situated",
    "largest": "biggest",
    "famous": "renowned",
    "allowed": "permitted",
    "film": "movie",
    "war": "conflict",
}
_CLAUSE_TEMPLATES = [
    ", after talks with {name} about {word}",
    ", which was funded by {name}",
    " and plans to open a new {word} office in {name}",
    ", despite a {word} dispute with {name}",
]
_NAME = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]{2,}(?: [A-Z][a-z]{2,})?")


def _seed_articles() -> list[tuple[str, str]]:
    path = SHARED / "corpus" / "seed" / "putin-visit-to-azerbaijan.txt"
    return [("seed", path.read_text(encoding="utf-8"))]


def _jsonl(path: Path, limit: int | None = None) -> list[tuple[str, str]]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            out.append((str(r.get("id") or r.get("_id")), r["text"]))
            if limit and len(out) >= limit:
                break
    return out


def _paragraph(text: str, a: int, b: int) -> tuple[int, int]:
    """The paragraph around ``text[a:b]``, at most three sentences either side (a
    passage-sized context, as retrieval would hand the verifier)."""
    start = text.rfind("\n\n", 0, a)
    end = text.find("\n\n", b)
    start, end = (0 if start < 0 else start + 2), (len(text) if end < 0 else end)
    spans = [s for s in split_sentences(text, start, end)]
    i = next(k for k, s in enumerate(spans) if s[1] >= b)
    window = spans[max(0, i - 3) : i + 4]
    return window[0][0], window[-1][1]


def _alter(
    sentence: str, names: list[str], far_names: list[str], far_words: list[str], rng: random.Random
) -> dict[str, str]:
    out: dict[str, str] = {}
    own = _NAME.findall(sentence)
    others = [n for n in names if n not in sentence and all(p not in sentence for p in n.split())]
    if own and others:
        out["entity"] = sentence.replace(rng.choice(own), rng.choice(others), 1)
    nums = [
        m
        for m in re.finditer(r"(?<![\w.,])\d+(?:\.\d+)?(?![\w,.]\d)", sentence)
        if not (1000 <= float(m.group(0)) <= 2100)
    ]
    if nums:
        m = rng.choice(nums)
        v = m.group(0)
        new = (
            str(int(float(v)) + rng.choice([2, 3, 7])) if "." not in v else v.replace(".", ".9", 1)
        )
        out["number"] = sentence[: m.start()] + new + sentence[m.end() :]
    years = list(re.finditer(r"\b(1[5-9]\d\d|20[0-2]\d)\b", sentence))
    months = [m for m in _MONTHS if re.search(rf"\b{m}\b", sentence)]
    if years:
        m = rng.choice(years)
        out["date"] = (
            sentence[: m.start()]
            + str(int(m.group(0)) - rng.choice([3, 5, 11]))
            + sentence[m.end() :]
        )
    elif months:
        m0 = rng.choice(months)
        other = _MONTHS[(_MONTHS.index(m0) + rng.choice([2, 4, 5])) % 12]
        out["date"] = re.sub(rf"\b{m0}\b", other, sentence, count=1)
    rel = [w for w in _RELATION_SWAPS if re.search(rf"\b{w}\b", sentence)]
    if rel:
        w = rng.choice(rel)
        out["relation"] = re.sub(rf"\b{w}\b", _RELATION_SWAPS[w], sentence, count=1)
    body = sentence.rstrip().rstrip(".!?\"'”")
    tail = sentence[len(body) :]
    template = rng.choice(_CLAUSE_TEMPLATES)
    out["clause"] = (
        body + template.format(name=rng.choice(far_names), word=rng.choice(far_words)) + tail
    )
    return out


def _paraphrase(sentence: str, rng: random.Random) -> dict[str, str]:
    out: dict[str, str] = {}
    first = (
        sentence[0].lower() + sentence[1:]
        if not re.match(r"^[A-Z]{2}|^[A-Z][a-z]+ [A-Z]", sentence)
        else sentence
    )
    out["framed"] = "According to the article, " + first
    clause = re.match(r"^(.{30,}?)[,;:] ", sentence)
    if clause and len(clause.group(1).split()) >= 6:
        out["first clause"] = clause.group(1) + "."
    pair = re.search(
        r"\b([A-Z][\w-]+(?: [A-Z][\w-]+)?) and ([A-Z][\w-]+(?: [A-Z][\w-]+)?)\b", sentence
    )
    if pair and pair.start() > 0:
        out["reordered"] = (
            sentence[: pair.start()]
            + f"{pair.group(2)} and {pair.group(1)}"
            + sentence[pair.end() :]
        )
    syn = [w for w in _SYNONYMS if re.search(rf"\b{w}\b", sentence)]
    if syn:
        w = rng.choice(syn)
        out["synonym"] = re.sub(rf"\b{w}\b", _SYNONYMS[w], sentence, count=1)
    if re.search(r" \([^)]{2,60}\)", sentence):
        out["no parenthesis"] = re.sub(r" \([^)]{2,60}\)", "", sentence, count=1)
    return out


def build(articles: list[tuple[str, str]], per_corpus: int, rng: random.Random):
    pool = []
    corpus_names = sorted({n for _, t in articles for n in _NAME.findall(t)})
    corpus_words = sorted({w.lower() for _, t in articles for w in re.findall(r"\b[a-z]{6,}\b", t)})
    for doc_id, text in articles:
        names = sorted(set(_NAME.findall(text)))
        for a, b in split_sentences(text):
            s = text[a:b]
            n = len(s.split())
            if 8 <= n <= 45 and s[-1:] in '.!?"”' and "\n" not in s:
                pool.append((doc_id, text, a, b, names))
    rng.shuffle(pool)
    items = []
    for doc_id, text, a, b, names in pool[:per_corpus]:
        s = text[a:b]
        pa, pb = _paragraph(text, a, b)
        far_names = rng.sample(corpus_names, min(20, len(corpus_names)))
        far_names = [x for x in far_names if x not in text] or ["Fenwick Holdings"]
        far_words = [
            w for w in rng.sample(corpus_words, min(50, len(corpus_words))) if w not in text.lower()
        ]
        item = {
            "doc_id": doc_id,
            "text": text,
            "para": (pa, pb),
            "kept": {"true": s},
            "altered": {},
        }
        item["kept"].update(_paraphrase(s, rng))
        item["altered"].update(_alter(s, names, far_names, far_words or ["harbour"], rng))
        items.append(item)
    return items


def main() -> None:
    rng = random.Random(ARGS.seed)
    corpora = {
        "seed": _seed_articles(),
        "bbc": _jsonl(SHARED / "data" / "bbc" / "corpus.jsonl"),
        "xquad-dev": _jsonl(SHARED / "data" / "xquad-dev" / "articles.jsonl"),
    }
    verifier = CitationVerifier(Embedder())
    report: dict[str, dict[str, object]] = {}
    for name, articles in corpora.items():
        items = build(articles, ARGS.per_corpus, rng)
        flagged: dict[str, list[bool]] = defaultdict(list)
        for done, it in enumerate(items):
            if done % 20 == 0:
                print(f"{name}: {done}/{len(items)} sentences", file=sys.stderr, flush=True)
            pa, pb = it["para"]
            hit = SearchHit(Passage(0, it["doc_id"], None, None, it["text"][pa:pb], pa, pb), 1.0)
            for group in ("kept", "altered"):
                for kind, claim in it[group].items():
                    answer = verifier.run(claim + " [1]", [hit])
                    bad = not (answer.sentences and answer.sentences[0].supported)
                    flagged[f"{group}:{kind}"].append(bad)
                    if ARGS.show_missed and group == "altered" and not bad:
                        print(f"missed {name} {kind}: {claim}", file=sys.stderr)
        kept = [x for k, v in flagged.items() if k.startswith("kept") for x in v]
        altered = [x for k, v in flagged.items() if k.startswith("altered") for x in v]
        report[name] = {
            "sentences": len(items),
            "kept_flagged": round(sum(kept) / len(kept), 3) if kept else None,
            "altered_flagged": round(sum(altered) / len(altered), 3) if altered else None,
            "by_kind": {k: [round(sum(v) / len(v), 3), len(v)] for k, v in sorted(flagged.items())},
        }
    if ARGS.json:
        print(json.dumps(report, indent=2))
        return
    print(f"verifier from {ARGS.code}")
    print("| corpus | sentences | true+paraphrase flagged | altered flagged |")
    print("|---|---:|---:|---:|")
    for name, r in report.items():
        print(f"| {name} | {r['sentences']} | {r['kept_flagged']} | {r['altered_flagged']} |")
    print()
    print("| corpus | kind | flagged | n |")
    print("|---|---|---:|---:|")
    for name, r in report.items():
        for kind, (rate, n) in r["by_kind"].items():  # type: ignore[union-attr]
            print(f"| {name} | {kind} | {rate} | {n} |")


if __name__ == "__main__":
    main()
