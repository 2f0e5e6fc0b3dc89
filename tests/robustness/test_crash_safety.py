"""kill -9 of a real `citeline ingest` at several points: the index survives.

After each kill the previous index must still load and return the same search
results; at the end a normal ingest must complete. The kill points are reached
deterministically through tests/robustness/ingest_paused.py (the real CLI with a
pause at the point), plus one unassisted kill of the plain CLI in mid-run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from answer.searcher import Searcher
from index.embedder import Embedder
from index.store import CURRENT, MANIFEST, Index
from tests.conftest import ROOT
from tests.protection import articles
from tests.protection.helpers import bbc_subset, citeline, copy_index, subprocess_env

pytestmark = pytest.mark.slow

QUERIES = ("Gazprom SOCAR strategic partnership", "BRICS membership", "oil and gas pipeline")
Results = list[tuple[str, int, float]]


def results(index_dir: Path, embedder: Embedder) -> tuple[str, Results]:
    """The generation served and its top hits for QUERIES, through the server's Searcher."""
    qa = Searcher.open(index_dir, embedder=embedder)
    try:
        hits = [
            (h.passage.doc_id, h.passage.chunk_id, round(h.score, 5))
            for q in QUERIES
            for h in qa.search(q, 5)
        ]
        return qa.index.generation.name, hits
    finally:
        qa.index.close()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    assert proc.poll() is None, "the ingest ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def kill_at(point: str, index_dir: Path, source: Path, log: Path) -> None:
    """Run the real ingest until it pauses at ``point``, then kill -9 it there."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.robustness.ingest_paused",
                "ingest",
                str(source),
                "--index",
                str(index_dir),
                "--no-progress",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=subprocess_env({"CITELINE_TEST_PAUSE_AT": point}),
            cwd=ROOT,
        )
        try:
            deadline = time.monotonic() + 180
            while f"PAUSED {point}" not in log.read_text(errors="replace"):
                assert proc.poll() is None, f"ingest exited early: {log.read_text()}"
                assert time.monotonic() < deadline, f"never reached {point}: {log.read_text()}"
                time.sleep(0.1)
            _kill(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def kill_mid_run(index_dir: Path, source: Path, log: Path) -> None:
    """The plain CLI, killed about a second after it opened its new generation."""
    before = {p.name for p in index_dir.glob("gen-*")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "citeline.cli",
                "ingest",
                str(source),
                "--index",
                str(index_dir),
                "--no-progress",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=subprocess_env(),
            cwd=ROOT,
        )
        try:
            deadline = time.monotonic() + 180
            while not {p.name for p in index_dir.glob("gen-*")} - before:
                assert proc.poll() is None, f"ingest exited early: {log.read_text()}"
                assert time.monotonic() < deadline, "the ingest never opened a generation"
                time.sleep(0.05)
            time.sleep(1.0)  # reading, chunking and embedding ~150 articles is under way
            _kill(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_kill_9_during_ingest_leaves_a_working_index(
    tmp_path: Path, seed_index: Path, embedder: Embedder
) -> None:
    index_dir = copy_index(seed_index, tmp_path / "index")
    new = tmp_path / "new"
    articles.write(new, articles.GLASSWORKS_ID, articles.GLASSWORKS)
    bbc_subset(new / "bbc.jsonl", 15)
    big = bbc_subset(tmp_path / "big" / "bbc.jsonl", 150, skip=100).parent
    baseline = results(index_dir, embedder)

    for point in ("embedding", "vectors", "pointer"):
        kill_at(point, index_dir, new, tmp_path / f"{point}.log")
        assert results(index_dir, embedder) == baseline, f"after a kill at {point}"
    # the kill before the rename left its pointer file behind
    assert list(index_dir.glob(f".{CURRENT}.*"))
    kill_mid_run(index_dir, big, tmp_path / "mid-run.log")
    assert results(index_dir, embedder) == baseline, "after a kill in mid-run"

    # Killed just after CURRENT was replaced: the new generation is whole and live.
    kill_at("after-pointer", index_dir, new, tmp_path / "after-pointer.log")
    generation, _ = results(index_dir, embedder)
    assert generation != baseline[0]
    with Index.open(index_dir) as index:
        assert index.document_count == 1 + 1 + 15
        assert index.document(articles.GLASSWORKS_ID) is not None

    # The next ordinary ingest takes the lock the killed one held, and completes.
    articles.write(new, articles.LANTERN_ID, articles.LANTERN)
    done = citeline(["ingest", str(new), "--index", str(index_dir), "--no-progress", "--json"])
    assert done.returncode == 0, done.stderr
    assert '"added": 1' in done.stdout and '"unchanged": 16' in done.stdout
    qa = Searcher.open(index_dir, embedder=embedder)
    try:
        assert qa.index.document_count == 18
        assert qa.search(articles.LANTERN_QUERY, 1)[0].passage.doc_id == articles.LANTERN_ID
        assert qa.search(articles.GLASSWORKS_QUERY, 1)[0].passage.doc_id == articles.GLASSWORKS_ID
    finally:
        qa.index.close()
    # Generations and pointer files the killed runs left unfinished are gone; CURRENT
    # names a whole one.
    assert all((g / MANIFEST).exists() for g in index_dir.glob("gen-*"))
    assert not list(index_dir.glob(f".{CURRENT}.*"))
    assert (index_dir / (index_dir / CURRENT).read_text().strip() / MANIFEST).exists()
