"""Helpers shared by the protection and robustness tests: real subprocesses on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import ROOT, SHARED
from tests.launcher import serving

# Strong enough for ProtectionSettings (>= 16 characters); for tests only.
TEST_KEY = "test-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TEST_KEY}"}
BBC = SHARED / "data" / "bbc" / "corpus.jsonl"
PROTECTION_ENV = (
    "CITELINE_API_KEYS",
    "CITELINE_RATE_LIMIT",
    "CITELINE_RATE_LIMIT_BURST",
    "CITELINE_MAX_BODY_BYTES",
    "CITELINE_CORS_ORIGINS",
    "CITELINE_LOG_JSON",
    "CITELINE_RELOAD_INTERVAL",
    "CITELINE_ADMIN_KEYS",
    "CITELINE_KEYS_FILE",
    "CITELINE_AUDIT_LOG",
)


def copy_index(src: Path, dst: Path) -> Path:
    """A private copy of an index: tests that write must not touch a shared one."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".lock"))
    return dst


def bbc_subset(dst: Path, count: int, *, skip: int = 0) -> Path:
    """``count`` BBC articles as a jsonl file for ingest (read from ../shared at run time)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with BBC.open(encoding="utf-8") as src, dst.open("w", encoding="utf-8") as out:
        for n, line in enumerate(src):
            if n < skip:
                continue
            if n >= skip + count:
                break
            record = json.loads(line)
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return dst


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PROTECTION_ENV}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


@contextmanager
def serve(
    index_dir: Path, log_path: Path, env: dict[str, str] | None = None, *, timeout: float = 180
) -> Iterator[str]:
    """A real ``citeline serve`` subprocess (protection settings from ``env``); yields its URL."""
    with serving(
        index_dir, log_path, environ=subprocess_env(env), cwd=ROOT, timeout=timeout
    ) as url:
        yield url


def citeline(
    args: Iterable[str], *, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the real ``citeline`` command to completion."""
    return subprocess.run(
        [sys.executable, "-m", "citeline.cli", *args],
        capture_output=True,
        text=True,
        env=subprocess_env(env),
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
