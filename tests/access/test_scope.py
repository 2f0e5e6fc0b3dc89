"""Which collections a request covers: its own choice, cut by its key."""

from __future__ import annotations

import pytest

from access.keys import Caller
from access.scope import (
    Forbidden,
    UnknownCollection,
    UnknownModel,
    collections_of_model,
    model_names,
    resolve,
)

EXISTING = ["a", "b", "c"]
KA = Caller("ka", "reader", frozenset({"a", "gone"}))
ALL = Caller("all", "reader", None)


def test_default_is_every_readable_collection() -> None:
    assert resolve(KA, None, EXISTING) == ["a"]
    assert resolve(ALL, None, EXISTING) == ["a", "b", "c"]
    assert resolve(Caller("none", "reader", frozenset({"x"})), None, EXISTING) == []


def test_unreadable_is_403_whether_or_not_it_exists_and_missing_readable_is_404() -> None:
    for names in (["b"], ["a", "b"], ["zzz"]):
        with pytest.raises(Forbidden):
            resolve(KA, names, EXISTING)
    with pytest.raises(UnknownCollection):
        resolve(KA, ["gone"], EXISTING)
    with pytest.raises(UnknownCollection):
        resolve(ALL, ["zzz"], EXISTING)
    assert resolve(ALL, ["c", "a", "c"], EXISTING) == ["c", "a"]


def test_models_name_collections() -> None:
    assert collections_of_model("citeline") is None
    assert collections_of_model("citeline:energy") == ["energy"]
    for bad in ("gpt-4", "citeline:", "Citeline"):
        with pytest.raises(UnknownModel):
            collections_of_model(bad)
    assert model_names(["a"]) == ["citeline", "citeline:a"]
