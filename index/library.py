"""Every collection under a root, open for reading and kept current.

A server reads all collections at once. :meth:`Library.refresh` compares the registry
(index/collections.py) and each collection's CURRENT with what is open, opens what is
new or changed (a new generation, a new collection), drops what was deleted, and swaps
the whole mapping in one assignment. A request holds the mapping it started with
(:meth:`Library.snapshot`), so it finishes on the indexes it began with even when a
collection is reloaded or deleted meanwhile; dropped indexes are freed when the last
request holding them ends (their files stay readable until then: they are open).

A collection that fails to open keeps its previous generation if it had one, and its
error is reported by :attr:`Library.errors` (no other collection is affected).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from index.collections import Registry
from index.store import CURRENT, Index, IndexUnavailable
from index.vector_store import BackendConfig

log = logging.getLogger("citeline.index")


@dataclass(frozen=True)
class Changes:
    opened: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.opened or self.dropped or self.failed)


class Library:
    def __init__(
        self,
        root: Path | str,
        backend: BackendConfig | None = None,
        check: Callable[[str, Index], None] | None = None,
    ) -> None:
        """``check(name, index)`` runs on every newly opened index before it is served
        (e.g. the embedder matches, a warm-up query); raising IndexUnavailable rejects it."""
        self.registry = Registry(root, backend)
        self.backend = backend
        self.check = check
        self._open: Mapping[str, Index] = MappingProxyType({})
        self._names: tuple[str, ...] = ()
        self.errors: dict[str, str] = {}
        # The generation of each collection that failed to open: not retried until it changes.
        self._failed: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        return self.registry.root

    def names(self) -> list[str]:
        """Every collection that exists (searchable or still empty), as last refreshed."""
        return list(self._names)

    def snapshot(self) -> Mapping[str, Index]:
        """The open indexes now: name -> index (empty collections are absent)."""
        return self._open

    def _pointer(self, name: str) -> str | None:
        try:
            path = self.registry.path_of(name)
            return (path / CURRENT).read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def due(self) -> bool:
        """Whether :meth:`refresh` would change anything (cheap: reads small files)."""
        names = tuple(self.registry.names())
        if names != self._names:
            return True
        for name in names:
            ix = self._open.get(name)
            pointer = self._pointer(name)
            served = ix.generation.name if ix is not None else None
            if pointer != served and pointer != self._failed.get(name):
                return True
        return False

    def refresh(self, *, retry_failed: bool = False) -> Changes:
        """Open new and changed collections, drop deleted ones; one reload at a time.
        ``retry_failed``: also try again generations that failed to open (a file
        repaired in place changes no CURRENT)."""
        with self._lock:
            names = tuple(self.registry.names())
            current = dict(self._open)
            opened: list[str] = []
            failed: list[str] = []
            dropped = [n for n in current if n not in names]
            for n in dropped:
                del current[n]
            for name in names:
                pointer = self._pointer(name)
                ix = current.get(name)
                if pointer is None:
                    if ix is not None:  # emptied: its CURRENT went away
                        del current[name]
                        dropped.append(name)
                    continue
                if ix is not None and ix.generation.name == pointer:
                    continue
                if self._failed.get(name) == pointer and not retry_failed:
                    continue  # this generation failed already; wait for the next one
                try:
                    new = Index.open(self.registry.path_of(name), self.backend)
                    if self.check is not None:
                        try:
                            self.check(name, new)
                        except BaseException:
                            new.close()
                            raise
                except Exception as exc:
                    self.errors[name] = str(exc) if isinstance(exc, IndexUnavailable) else repr(exc)
                    self._failed[name] = pointer
                    failed.append(name)
                    log.error("collection %s not (re)loaded: %s", name, exc)
                    continue
                current[name] = new
                self.errors.pop(name, None)
                self._failed.pop(name, None)
                opened.append(name)
            for gone in [n for n in self.errors if n not in names]:
                del self.errors[gone]
                self._failed.pop(gone, None)
            self._open = MappingProxyType(current)
            self._names = names
            return Changes(tuple(opened), tuple(dropped), tuple(failed))
