"""The offline cl100k tokenizer: which BPE file it reads, chosen by the settings at the
entry point (CITELINE_TIKTOKEN_BPE), never by index/ reading the environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from citeline.settings import load_settings
from index import tokens
from index.tokens import cl100k, count_tokens, load_cl100k, use_bpe_file
from ingest.chunker import ChunkerSettings

TEXT = "Gazprom and SOCAR signed a memorandum on gas supplies in Baku."
BUNDLED = Path(tokens.__file__).parent / "data" / "cl100k_base.tiktoken"


@pytest.fixture(autouse=True)
def bundled_again() -> Iterator[None]:
    yield
    use_bpe_file(None)  # the process default is global: leave it as found


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    path = tmp_path / "elsewhere" / "cl100k_base.tiktoken"
    path.parent.mkdir()
    shutil.copyfile(BUNDLED, path)
    return path


def test_the_settings_name_the_file_and_the_process_uses_it(
    copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITELINE_TIKTOKEN_BPE", str(copy))
    settings = load_settings()
    assert settings.tiktoken_bpe == copy
    use_bpe_file(settings.tiktoken_bpe)
    assert cl100k() is load_cl100k(copy)
    assert cl100k() is not load_cl100k(None)
    # The same ranks (hash-checked), so the same tokens as the bundled copy.
    assert cl100k().encode_ordinary(TEXT) == load_cl100k(None).encode_ordinary(TEXT)
    use_bpe_file(None)
    assert cl100k() is load_cl100k(None)


def test_a_missing_or_wrong_file_fails_at_once_and_changes_nothing(tmp_path: Path) -> None:
    before = count_tokens(TEXT)
    missing = tmp_path / "nope.tiktoken"
    with pytest.raises(FileNotFoundError, match=r"nope\.tiktoken"):
        use_bpe_file(missing)
    wrong = tmp_path / "wrong.tiktoken"
    wrong.write_text("aGVsbG8= 0\n")
    with pytest.raises(ValueError, match="not tiktoken's cl100k_base"):
        use_bpe_file(wrong)
    assert cl100k() is load_cl100k(None) and count_tokens(TEXT) == before


def test_index_does_not_read_the_environment(tmp_path: Path) -> None:
    # A bad CITELINE_TIKTOKEN_BPE reaches index/ only through the settings.
    env = {"CITELINE_TIKTOKEN_BPE": str(tmp_path / "missing"), "PATH": "/usr/bin:/bin"}
    code = "from index.tokens import count_tokens; print(count_tokens('a b c'))"
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "3"


def test_the_cli_names_the_variable_when_the_file_is_missing(
    tmp_path: Path, seed_index: Path
) -> None:
    missing = tmp_path / "missing.tiktoken"
    r = subprocess.run(
        [sys.executable, "-m", "citeline.cli", "search", "BRICS", "--index", str(seed_index)],
        capture_output=True,
        text=True,
        env={**os.environ, "CITELINE_TIKTOKEN_BPE": str(missing)},
        timeout=300,
    )
    assert r.returncode == 2
    assert "CITELINE_TIKTOKEN_BPE" in r.stderr and str(missing) in r.stderr
    assert "Traceback" not in r.stderr


def test_a_ray_worker_takes_the_file_with_its_task(copy: Path, tmp_path: Path) -> None:
    # Ray runs the chunker in other processes: the driver's file is passed along.
    from ingest.ray_ingest import _worker_chunker

    with pytest.raises(FileNotFoundError):
        _worker_chunker(ChunkerSettings(), tmp_path / "missing")
    chunker = _worker_chunker(ChunkerSettings(max_tokens=50), copy)
    assert cl100k() is load_cl100k(copy)
    assert chunker.run("d", TEXT)[0].text == TEXT
