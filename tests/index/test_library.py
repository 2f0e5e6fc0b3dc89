"""Every collection open at once, reloaded and dropped as the registry changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.collections import Registry
from index.library import Library
from index.store import CURRENT, Index, IndexUnavailable
from tests.collections_helpers import keep_only, subset_index


def test_collections_appear_reload_and_disappear(seed_index: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    registry = Registry(root)
    subset_index(seed_index, registry.path_of("a"), keep={"putin-visit-to-azerbaijan.txt"})
    registry.create("empty")
    lib = Library(root)
    assert lib.due()
    changes = lib.refresh()
    assert changes.opened == ("a",) and not changes.failed
    assert lib.names() == ["a", "empty"]
    assert set(lib.snapshot()) == {"a"}  # an empty collection has nothing to search
    assert not lib.due() and not lib.refresh()

    held = lib.snapshot()["a"]
    # A new generation (here: one with no documents) replaces the open one.
    keep_only(registry.path_of("a"), set())
    assert lib.due()
    assert lib.refresh().opened == ("a",)
    assert lib.snapshot()["a"].document_count == 0
    assert held.document_count == 1 and held.passages([1])  # in-flight requests keep theirs

    registry.delete("a")
    assert lib.refresh().dropped == ("a",)
    assert lib.names() == ["empty"] and dict(lib.snapshot()) == {}


def test_a_collection_that_fails_to_open_keeps_its_generation_and_spares_the_rest(
    seed_index: Path, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    registry = Registry(root)
    for name in ("a", "b"):
        subset_index(seed_index, registry.path_of(name), keep={"putin-visit-to-azerbaijan.txt"})
    rejected: list[str] = []

    def check(name: str, index: Index) -> None:
        if name in rejected:
            raise IndexUnavailable(f"{name} rejected")

    lib = Library(root, check=check)
    lib.refresh()
    before = lib.snapshot()["b"]
    rejected.append("b")
    # A damaged new generation of b: CURRENT names a folder that does not exist.
    (registry.path_of("b") / CURRENT).write_text("gen-missing\n")
    changes = lib.refresh()
    assert changes.failed == ("b",) and "gen-missing" in lib.errors["b"]
    assert lib.snapshot()["b"] is before and "a" in lib.snapshot()
    assert not lib.due()  # the same broken generation is not retried in a loop
    with pytest.raises(KeyError):
        lib.snapshot()["c"]
