"""Collections: named indexes under one root, so one deployment keeps teams' articles apart.

Layout of a root (the ``--index DIR`` of every command)::

    DIR/collections/NAME/       one ordinary index each (CURRENT + gen-*/, see index/store.py),
                                so each keeps incremental ingest, crash safety and live reload
    DIR/CURRENT, DIR/gen-*/     the single index of earlier versions: the collection ``default``

``default`` is ``DIR/collections/default`` when that folder exists, else ``DIR`` itself. An
index written before collections existed therefore opens unchanged as ``default``, and
``citeline ingest PATH --index DIR`` without ``--collection`` keeps writing where it always
did. Creating ``collections/default`` beside an existing ``DIR/CURRENT`` is refused: there
would be two defaults.

A collection exists once its folder does (``create`` makes an empty one; ingest creates it
too); it is searchable once an ingest has committed a generation there. ``delete`` first
renames the folder out of the registry (one atomic step: a server polling the registry
stops serving it at its next look, requests already running on it finish on their open
files), then removes it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from index.store import (
    CURRENT,
    MANIFEST,
    IndexUnavailable,
    Manifest,
    _current_generation,
    _drop_external_vectors,
    release_writer_lock,
    take_writer_lock,
)
from index.vector_store import BackendConfig

DEFAULT = "default"
COLLECTIONS_DIR = "collections"
# Lower case so names mean the same on case-insensitive file systems; no dots or
# slashes so a name can never leave the registry folder.
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_DELETING = ".deleting-"


class CollectionError(ValueError):
    """A bad collection name or an operation the registry refuses; the message says why."""


class CollectionMissing(CollectionError):
    pass


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise CollectionError(
            f"invalid collection name {name!r}: use 1-63 characters a-z, 0-9, '-' or '_', "
            "starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    path: Path
    documents: int | None  # None: created but nothing ingested yet (or unreadable)
    passages: int | None
    generation: str | None
    problem: str | None = None


class Registry:
    """The collections under one root: list, create, delete, and where each lives."""

    def __init__(self, root: Path | str, backend: BackendConfig | None = None) -> None:
        """``backend``: where Qdrant vectors of deleted generations live (default FAISS:
        nothing outside the folder)."""
        self.root = Path(root)
        self.backend = backend or BackendConfig()

    @property
    def folder(self) -> Path:
        return self.root / COLLECTIONS_DIR

    def root_is_default(self) -> bool:
        """Whether ``DIR`` itself holds the default collection (the single-index layout)."""
        return not (self.folder / DEFAULT).is_dir()

    def path_of(self, name: str) -> Path:
        """Where collection ``name`` lives (whether or not it exists yet)."""
        check_name(name)
        if name == DEFAULT and self.root_is_default():
            return self.root
        return self.folder / name

    def exists(self, name: str) -> bool:
        try:
            path = self.path_of(name)
        except CollectionError:
            return False
        if path == self.root:
            return (self.root / CURRENT).exists()
        return path.is_dir()

    def names(self) -> list[str]:
        """Every collection, sorted; ``default`` when the root holds an index."""
        found = set()
        if self.folder.is_dir():
            for p in self.folder.iterdir():
                if p.is_dir() and NAME_PATTERN.fullmatch(p.name):
                    found.add(p.name)
        if (self.root / CURRENT).exists():
            found.add(DEFAULT)
        return sorted(found)

    def info(self, name: str) -> CollectionInfo:
        path = self.path_of(name)
        if not self.exists(name):
            raise CollectionMissing(f"there is no collection {name!r} in {self.root}")
        try:
            gen = _current_generation(path)
            if gen is None:
                return CollectionInfo(name, path, None, None, None)
            m = Manifest.load(gen / MANIFEST)
            return CollectionInfo(name, path, m.documents, m.chunks, gen.name)
        except IndexUnavailable as exc:
            return CollectionInfo(name, path, None, None, None, problem=str(exc))

    def list(self) -> list[CollectionInfo]:
        return [self.info(n) for n in self.names()]

    def create(self, name: str) -> Path:
        check_name(name)
        if name == DEFAULT and (self.root / CURRENT).exists():
            raise CollectionError(
                f"collection 'default' already exists: {self.root} itself holds the default "
                "collection (its single index)"
            )
        if self.exists(name):
            raise CollectionError(f"collection {name!r} already exists in {self.root}")
        path = self.folder / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def delete(self, name: str) -> None:
        """Remove a collection and its articles. Refused while an ingest writes to it."""
        path = self.path_of(name)
        if not self.exists(name):
            raise CollectionMissing(f"there is no collection {name!r} in {self.root}")
        with _writer_lock(path):
            if path == self.root:
                # The old single-index layout: CURRENT goes first, so the index
                # disappears in one step; its generations follow.
                (self.root / CURRENT).unlink()
                for p in self.root.glob("gen-*"):
                    _drop_generation(p, self.backend)
                return
            doomed = self.folder / f"{_DELETING}{name}-{uuid.uuid4().hex[:8]}"
            os.replace(path, doomed)
        for p in doomed.glob("gen-*"):
            _drop_generation(p, self.backend)
        shutil.rmtree(doomed, ignore_errors=True)


def _drop_generation(generation: Path, backend: BackendConfig) -> None:
    if generation.is_dir():
        # The folder goes regardless, even when Qdrant cannot be reached.
        with contextlib.suppress(Exception):
            _drop_external_vectors(generation, backend)
        shutil.rmtree(generation, ignore_errors=True)


class _writer_lock:
    """The index writer's lock (index/store.py), so delete never races an ingest."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        lock = take_writer_lock(self.path)
        if lock is None:
            raise CollectionError(f"an ingest is writing to {self.path}; wait for it to finish")
        self._fh = lock

    def __exit__(self, *exc: object) -> None:
        release_writer_lock(self._fh)
