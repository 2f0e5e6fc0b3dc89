"""The one way tests and benchmarks start a real server: a subprocess with its output
in a log file, ready when its /readyz answers 200 (or a readiness check of the
caller's), stopped with SIGTERM then SIGKILL. bench/ imports it too."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_command(index_dir: Path, port: int) -> list[str]:
    """``citeline serve`` as README runs it."""
    return [
        sys.executable,
        "-m",
        "citeline.cli",
        "serve",
        "--index",
        str(index_dir),
        "--port",
        str(port),
    ]


def is_ready(url: str, timeout: float = 2) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def start(
    command: Sequence[str],
    log_path: Path,
    ready: Callable[[], bool],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.Popen[bytes]:
    """Start ``command`` (output to ``log_path``, environment ``env`` or this one's) and
    wait until ``ready()``; raises with the log when it exits or times out first."""
    log = log_path.open("wb")
    proc = subprocess.Popen(
        list(command),
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(env if env is not None else os.environ),
        cwd=cwd,
    )
    log.close()  # the child keeps its own copy of the descriptor
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log_path.read_text()}")
        if time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError(f"server did not become ready: {log_path.read_text()}")
        time.sleep(0.25)
    return proc


def stop(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_server(
    index_dir: Path,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``citeline serve`` (on ``port`` or a free one) and wait until /readyz answers.
    ``env`` is added to ``environ`` (default: this process's environment)."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    full = {**(environ if environ is not None else os.environ), **(env or {})}
    proc = start(
        serve_command(index_dir, port),
        log_path,
        lambda: is_ready(url),
        env=full,
        cwd=cwd,
        timeout=timeout,
    )
    return proc, url


@contextmanager
def serving(
    index_dir: Path,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    **options: object,
) -> Iterator[str]:
    """``start_server`` for the length of a ``with`` block; yields the URL."""
    proc, url = start_server(index_dir, log_path, env, **options)  # type: ignore[arg-type]
    try:
        yield url
    finally:
        stop(proc)
