"""The ``citeline`` commands as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import SEED_ARTICLE, require_shared


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


def test_ingesting_the_same_files_again_changes_nothing(tmp_path: Path) -> None:
    # Two articles (one a copy of the seed under another name) into a fresh index, twice.
    folder = tmp_path / "articles"
    folder.mkdir()
    text = require_shared(SEED_ARTICLE).read_text(encoding="utf-8")
    (folder / "a.txt").write_text(text, encoding="utf-8")
    (folder / "b.md").write_text("# Port news\n\nDock workers ended their strike.\n")
    index = tmp_path / "index"
    first = citeline("ingest", str(folder), "--index", str(index), "--json", "--no-progress")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["committed"] is True
    live = (index / "CURRENT").read_text()
    generations = sorted(p.name for p in index.iterdir() if p.name.startswith("gen-"))

    again = citeline("ingest", str(folder), "--index", str(index), "--no-progress")
    assert again.returncode == 0, again.stderr
    assert "nothing changed; the index was left as it was" in again.stderr
    assert (index / "CURRENT").read_text() == live
    assert sorted(p.name for p in index.iterdir() if p.name.startswith("gen-")) == generations
