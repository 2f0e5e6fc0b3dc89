"""Which collections a request may search: what it names, checked against its key.

Rules (the same for every route):

- no ``collections`` given: every existing collection the key may read (possibly none);
- a named collection the key may not read: :class:`Forbidden` (HTTP 403), whether or not
  it exists, so a key learns nothing about collections outside its grant;
- a named collection the key may read but that does not exist (never created, or
  deleted meanwhile): :class:`UnknownCollection` (HTTP 404).

The OpenAI-compatible ``model`` names collections too: ``citeline`` is every readable
collection, ``citeline:energy`` the collection ``energy``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from access.keys import Caller

MODEL = "citeline"


class Forbidden(Exception):
    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        super().__init__(
            f"this key may not read collection{'s' if len(names) > 1 else ''} {', '.join(names)}"
        )


class UnknownCollection(Exception):
    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        super().__init__(
            f"no collection named {', '.join(names)}; GET /v1/collections lists those you may read"
        )


class UnknownModel(Exception):
    pass


def resolve(caller: Caller, requested: Sequence[str] | None, existing: Iterable[str]) -> list[str]:
    """The collections a request covers, in request order (or name order by default)."""
    existing = list(existing)
    if requested is None:
        return caller.readable(sorted(existing))
    wanted = list(dict.fromkeys(requested))
    refused = [n for n in wanted if not caller.can_read(n)]
    if refused:
        raise Forbidden(refused)
    missing = [n for n in wanted if n not in existing]
    if missing:
        raise UnknownCollection(missing)
    return wanted


def collections_of_model(model: str) -> list[str] | None:
    """``citeline`` -> None (every readable collection); ``citeline:NAME`` -> [NAME]."""
    if model == MODEL:
        return None
    prefix = MODEL + ":"
    if model.startswith(prefix) and len(model) > len(prefix):
        return [model[len(prefix) :]]
    raise UnknownModel(
        f"unknown model {model!r}: use {MODEL!r} (every collection your key may read) or "
        f"'{MODEL}:COLLECTION'; GET /v1/models lists them"
    )


def model_names(collections: Iterable[str]) -> list[str]:
    return [MODEL, *(f"{MODEL}:{c}" for c in collections)]
