"""A damaged index: a clear error naming the file, and a server that stays up unready.

The store-level tests need no model. The server test runs a real `citeline serve`
over a damaged index: it must keep running with /readyz 503 naming the file (not
exit, which a supervisor would turn into a crash loop), and recover through
POST /v1/admin/reload once the file is repaired.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from index.store import CURRENT, Index, IndexUnavailable
from tests.conftest import ROOT
from tests.launcher import free_port, serve_command, start, stop
from tests.protection.helpers import AUTH, TEST_KEY, copy_index, subprocess_env


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
        return True
    except httpx.HTTPError:
        return False


def _generation(index_dir: Path) -> Path:
    return index_dir / (index_dir / CURRENT).read_text().strip()


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00garbage\xff" * 64)


DAMAGE: dict[str, tuple[Callable[[Path], Path], Callable[[Path], None]]] = {
    "truncated vectors": (lambda g: g / "vectors.faiss", _truncate),
    "garbage vectors": (lambda g: g / "vectors.faiss", _garbage),
    "truncated passages": (lambda g: g / "passages.sqlite", _truncate),
    "garbage passages": (lambda g: g / "passages.sqlite", _garbage),
    "truncated manifest": (lambda g: g / "manifest.json", _truncate),
    "garbage keyword ids": (lambda g: g / "bm25" / "doc_ids.json", _garbage),
    "truncated keyword matrix": (lambda g: g / "bm25" / "data.csc.index.npy", _truncate),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_file_gives_an_error_naming_it(
    damage: str, tmp_path: Path, seed_index: Path
) -> None:
    index_dir = copy_index(seed_index, tmp_path / "index")
    locate, spoil = DAMAGE[damage]
    target = locate(_generation(index_dir))
    spoil(target)
    with pytest.raises(IndexUnavailable) as info:
        Index.open(index_dir).close()
    message = str(info.value)
    # the file, or for the keyword index its folder, is named
    assert target.name in message or str(target.parent) in message, message


def test_damaged_pointer_gives_an_error_naming_it(tmp_path: Path, seed_index: Path) -> None:
    index_dir = copy_index(seed_index, tmp_path / "index")
    (index_dir / CURRENT).write_text("gen-missing\n")
    with pytest.raises(IndexUnavailable, match="CURRENT names gen-missing"):
        Index.open(index_dir)
    (index_dir / CURRENT).write_text("../../etc\n")
    with pytest.raises(IndexUnavailable, match="CURRENT is damaged"):
        Index.open(index_dir)


@pytest.mark.slow
def test_server_over_a_damaged_index_stays_up_unready_and_recovers(
    tmp_path: Path, seed_index: Path
) -> None:
    index_dir = copy_index(seed_index, tmp_path / "index")
    vectors = _generation(index_dir) / "vectors.faiss"
    good = tmp_path / "vectors.good"
    shutil.copyfile(vectors, good)
    _truncate(vectors)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    # Ready to test once /readyz answers at all: a 503 is what is expected.
    proc = start(
        serve_command(index_dir, port),
        log_path,
        lambda: _answers(f"{url}/readyz"),
        env=subprocess_env({"CITELINE_ADMIN_KEYS": TEST_KEY, "CITELINE_RELOAD_INTERVAL": "0"}),
        cwd=ROOT,
        timeout=180,
    )
    try:
        ready = httpx.get(f"{url}/readyz", headers=AUTH, timeout=5)
        assert ready.status_code == 503
        assert ready.json()["ready"] is False
        assert "vectors.faiss" in ready.json()["error"]
        assert httpx.get(f"{url}/healthz").status_code == 200
        search = httpx.post(f"{url}/v1/search", json={"query": "Gazprom"}, headers=AUTH)
        assert search.status_code == 503 and "vectors.faiss" in search.json()["error"]
        assert "vectors.faiss" in log_path.read_text()  # the startup error is logged

        shutil.copyfile(good, vectors)  # repaired in place: CURRENT did not change
        reload = httpx.post(f"{url}/v1/admin/reload", headers=AUTH, timeout=120)
        assert reload.status_code == 200, reload.text
        assert httpx.get(f"{url}/readyz").json()["ready"] is True
        search = httpx.post(f"{url}/v1/search", json={"query": "Gazprom"}, headers=AUTH)
        assert search.status_code == 200 and search.json()["results"]
    finally:
        stop(proc)
