"""The ``citeline`` commands as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def citeline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "citeline.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_ask_and_search_over_the_seed_index(seed_index: Path) -> None:
    r = citeline("ask", "What did Gazprom and SOCAR sign?", "--index", str(seed_index), "--json")
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert any("strategic partnership" in c["quote"] for c in answer["citations"])
    r = citeline("search", "BRICS", "--index", str(seed_index), "--top-k", "2")
    assert r.returncode == 0 and "BRICS" in r.stdout


def test_serve_refuses_a_missing_index_with_a_clear_message(tmp_path: Path) -> None:
    r = citeline("serve", "--index", str(tmp_path / "none"), "--port", "1")
    assert r.returncode == 2
    assert "no index at" in r.stderr and "citeline ingest" in r.stderr
