"""/v1/ask latency of this checkout against another, measured in one run.

    .venv/bin/python bench/ask_latency_ab.py --index DIR --baseline-code DIR [--rounds N]

Starts two servers over the same index on 127.0.0.1: one runs this checkout,
the other the code in ``--baseline-code`` (e.g. ``git archive main | tar -x -C
/tmp/base``), and sends the BBC questions of bench/ingest_and_latency.py to
both, alternating request by request, so load on a shared machine hits both
alike. Prints p50/p90 per server and the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest_and_latency import QUESTIONS  # noqa: E402
from tests.launcher import start_server  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--baseline-code", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=3, help="passes over the questions")
    args = ap.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="ab-"))
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        servers["baseline"] = start_server(
            args.index,
            logs / "baseline.log",
            env={"PYTHONPATH": str(args.baseline_code.resolve()), "PYTHONDONTWRITEBYTECODE": "1"},
        )
        servers["this"] = start_server(
            args.index, logs / "this.log", env={"PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        )
        times: dict[str, list[float]] = {name: [] for name in servers}
        with httpx.Client(timeout=60) as client:
            for _proc, url in servers.values():  # warm up
                client.post(f"{url}/v1/ask", json={"question": QUESTIONS[0]})
            for _ in range(args.rounds):
                for q in QUESTIONS:
                    for name, (_, url) in servers.items():
                        started = time.perf_counter()
                        r = client.post(f"{url}/v1/ask", json={"question": q})
                        times[name].append((time.perf_counter() - started) * 1000)
                        r.raise_for_status()
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    p50 = {n: statistics.median(t) for n, t in times.items()}
    p90 = {n: statistics.quantiles(t, n=10)[-1] for n, t in times.items()}
    print("| server | requests | p50 ms | p90 ms |")
    print("|---|---:|---:|---:|")
    for n in times:
        print(f"| {n} | {len(times[n])} | {p50[n]:.1f} | {p90[n]:.1f} |")
    print(f"\np50 ratio this/baseline: {p50['this'] / p50['baseline']:.2f}x")


if __name__ == "__main__":
    main()
