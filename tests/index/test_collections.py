"""The collections registry and its CLI, over real indexes on disk."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from index.collections import DEFAULT, CollectionError, CollectionMissing, Registry, check_name
from index.store import Index, IndexWriter
from tests.collections_helpers import bbc_articles, subset_index, write_jsonl


def cli(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "citeline.cli", *args],
        capture_output=True,
        text=True,
        input=input,
        timeout=300,
    )


@pytest.mark.parametrize(
    "name", ["", "Energy", "../x", "a/b", ".hidden", "-x", "a" * 64, "é", "a b", "x.y"]
)
def test_bad_names_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(CollectionError):
        check_name(name)
    with pytest.raises(CollectionError):
        Registry(tmp_path).create(name)
    assert not any(tmp_path.rglob("*"))


def test_an_existing_single_index_opens_unchanged_as_default(
    seed_index: Path, tmp_path: Path
) -> None:
    seed_index = Path(shutil.copytree(seed_index, tmp_path / "index"))
    registry = Registry(seed_index)
    assert registry.names() == [DEFAULT]
    assert registry.path_of(DEFAULT) == seed_index
    info = registry.info(DEFAULT)
    assert info.documents == 1 and info.passages and info.passages > 0
    # Another collection beside it lives under collections/ and leaves the root alone.
    registry.create("energy")
    assert registry.names() == [DEFAULT, "energy"]
    assert registry.path_of("energy") == seed_index / "collections" / "energy"
    assert registry.info("energy").documents is None  # created, nothing ingested
    with pytest.raises(CollectionError, match="holds the default"):
        registry.create(DEFAULT)
    with pytest.raises(CollectionError, match="already exists"):
        registry.create("energy")
    Index.open(registry.path_of(DEFAULT)).close()
    registry.delete("energy")
    assert registry.names() == [DEFAULT]


def test_delete_removes_a_collection_and_missing_ones_are_reported(
    seed_index: Path, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    subset_index(seed_index, root / "collections" / "a", keep={"x"})
    registry = Registry(root)
    assert registry.names() == ["a"]
    assert registry.path_of(DEFAULT) == root  # no default yet
    registry.delete("a")
    assert registry.names() == []
    assert not (root / "collections" / "a").exists()
    assert [p.name for p in (root / "collections").iterdir()] == []
    with pytest.raises(CollectionMissing):
        registry.delete("a")


def test_delete_waits_for_no_ingest(seed_index: Path, tmp_path: Path) -> None:
    # The same lock as the index writer's: a delete during an ingest is refused.
    root = tmp_path / "root"
    subset_index(seed_index, root / "collections" / "a", keep={"x"})
    registry = Registry(root)
    with Index.open(registry.path_of("a")) as index:
        manifest = index.manifest
    writer = IndexWriter(
        registry.path_of("a"),
        embedder=manifest.embedder,
        dimension=manifest.dimension,
        chunker=manifest.chunker,
    )
    with pytest.raises(CollectionError, match="an ingest is writing"):
        registry.delete("a")
    assert registry.names() == ["a"]
    writer.abort()
    registry.delete("a")  # the writer let go of the lock
    assert registry.names() == []


def test_cli_ingest_into_collections_list_and_delete(tmp_path: Path) -> None:
    rows = list(bbc_articles(6))
    a = write_jsonl(tmp_path / "a.jsonl", rows[:3])
    b = write_jsonl(tmp_path / "b.jsonl", rows[3:])
    root = tmp_path / "root"
    for name, path in (("energy", a), ("legal", b)):
        r = cli("ingest", str(path), "--index", str(root), "--collection", name, "--no-progress")
        assert r.returncode == 0, r.stderr
    r = cli("collections", "list", "--index", str(root), "--json")
    assert r.returncode == 0, r.stderr
    listed = {c["name"]: c for c in json.loads(r.stdout)}
    assert set(listed) == {"energy", "legal"}
    assert listed["energy"]["documents"] == 3 and listed["legal"]["documents"] == 3
    with Index.open(root / "collections" / "legal") as ix:
        assert ix.document("business/004") is not None
        assert ix.document("business/001") is None

    r = cli("collections", "create", "Bad Name", "--index", str(root))
    assert r.returncode == 2 and "invalid collection name" in r.stderr
    r = cli("ingest", str(a), "--index", str(root), "--collection", "../up", "--no-progress")
    assert r.returncode == 2 and "invalid collection name" in r.stderr
    # Delete asks first; "n" keeps it.
    r = cli("collections", "delete", "legal", "--index", str(root), input="n\n")
    assert r.returncode == 1 and (root / "collections" / "legal").is_dir()
    r = cli("collections", "delete", "legal", "--index", str(root), "--yes")
    assert r.returncode == 0, r.stderr
    r = cli("collections", "list", "--index", str(root), "--json")
    assert [c["name"] for c in json.loads(r.stdout)] == ["energy"]
    r = cli("collections", "delete", "legal", "--index", str(root), "--yes")
    assert r.returncode == 2 and "no collection 'legal'" in r.stderr
