"""Passage vectors in Qdrant: one collection per index generation.

Point id = chunk id; payload = the document's filterable fields (doc_id,
title, author, source, url, date, and its metadata under ``metadata``), so
search filters run inside Qdrant as payload filters. Vectors are normalised by
the embedder, so DOT distance gives the same scores as FAISS's inner product.

Two ways to reach Qdrant:

- a server or cluster (``CITELINE_QDRANT_URL``): any number of processes;
- local mode (``CITELINE_QDRANT_PATH``): qdrant-client runs in this process
  over a folder that it locks, so ONE process at a time may use it (tests and
  single-process setups; ingest while serving needs a server). Within a process
  every user of a path shares one client (:func:`acquire`), else the writer and
  the readers of one test would fight over the lock.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import QdrantClient
from qdrant_client import models as qm

from index.models import DOCUMENT_FIELDS
from index.vector_store import QDRANT_MARKER, BackendConfig, FilterSource

log = logging.getLogger("citeline.qdrant")

MARKER = QDRANT_MARKER
BATCH = 512
# Metadata keys usable as a Qdrant key path as they are; others are resolved via SQLite.
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class QdrantUnavailable(Exception):
    """Qdrant cannot be reached or lacks what the index needs; the message says which."""


@dataclass(frozen=True)
class Location:
    url: str | None = None
    path: Path | None = None
    api_key: str | None = None

    def __post_init__(self) -> None:
        if (self.url is None) == (self.path is None):
            raise QdrantUnavailable(
                "the Qdrant backend needs exactly one of CITELINE_QDRANT_URL (a server) or "
                "CITELINE_QDRANT_PATH (local mode, one process at a time)"
            )

    @classmethod
    def of(cls, config: BackendConfig) -> Location:
        return cls(config.url, config.path, config.api_key)

    def describe(self) -> str:
        return f"Qdrant at {self.url}" if self.url else f"Qdrant local storage {self.path}"

    def record(self) -> dict[str, Any]:
        """What a manifest keeps (never the API key)."""
        return {"url": self.url, "path": str(self.path) if self.path else None}


class _Shared:
    def __init__(self, client: QdrantClient, local: bool) -> None:
        self.client = client
        self.users = 0
        # Local mode is plain Python over dicts and SQLite: one call at a time.
        self.lock: threading.RLock | None = threading.RLock() if local else None


_clients: dict[Location, _Shared] = {}
_clients_lock = threading.Lock()


def acquire(location: Location) -> _Shared:
    with _clients_lock:
        shared = _clients.get(location)
        if shared is None:
            shared = _Shared(_connect(location), location.path is not None)
            _clients[location] = shared
        shared.users += 1
        return shared


def release(location: Location) -> None:
    """The last user of a client closes it, which frees a local folder's lock."""
    with _clients_lock:
        shared = _clients.get(location)
        if shared is None:
            return
        shared.users -= 1
        if shared.users <= 0:
            del _clients[location]
            shared.client.close()


@atexit.register
def _close_all() -> None:
    # Clients still open at exit (indexes nobody closed) would otherwise be
    # closed by the garbage collector while the interpreter is half torn down.
    with _clients_lock:
        for shared in _clients.values():
            with contextlib.suppress(Exception):
                shared.client.close()
        _clients.clear()


def _connect(location: Location) -> QdrantClient:
    if location.path is not None:
        location.path.mkdir(parents=True, exist_ok=True)
        try:
            # Server threads search on a client opened in another thread.
            return QdrantClient(path=str(location.path), force_disable_check_same_thread=True)
        except RuntimeError as exc:
            raise QdrantUnavailable(
                f"{location.describe()} is in use by another process: local mode allows one "
                "process at a time (stop the other one, or run a Qdrant server and set "
                f"CITELINE_QDRANT_URL): {exc}"
            ) from exc
    client = QdrantClient(url=location.url, api_key=location.api_key, timeout=30)
    try:
        client.get_collections()
    except Exception as exc:  # connection refused, TLS, auth: all mean "cannot use it"
        client.close()
        raise QdrantUnavailable(f"cannot reach {location.describe()}: {exc}") from exc
    return client


class _Connection:
    """One acquired client and a collection on it."""

    def __init__(self, location: Location, collection: str) -> None:
        self.location = location
        self.collection = collection
        self._shared = acquire(location)
        self._released = False

    def locked(self) -> contextlib.AbstractContextManager[Any]:
        lock = self._shared.lock
        return lock if lock is not None else contextlib.nullcontext()

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        fn = getattr(self._shared.client, method)
        if self._shared.lock is None:
            return fn(self.collection, *args, **kwargs)
        with self._shared.lock:
            return fn(self.collection, *args, **kwargs)

    def exists(self) -> bool:
        return bool(self.call("collection_exists"))

    def count(self) -> int:
        return int(self.call("count", exact=True).count)

    def release(self) -> None:
        if not self._released:
            self._released = True
            release(self.location)


def payload(
    doc_id: str,
    title: str | None,
    author: str | None,
    source: str | None,
    url: str | None,
    date: str | None,
    metadata: Mapping[str, Any],
) -> dict[str, Any]:
    """A passage's payload: what filters may name, typed as SQLite compares it."""
    fields = {"title": title, "author": author, "source": source, "url": url, "date": date}
    out: dict[str, Any] = {"doc_id": doc_id}
    out.update({k: v for k, v in fields.items() if v is not None})
    # The passages database stores metadata as JSON text and filters compare
    # json_extract() values: scalars as themselves (true as 1), lists and
    # objects as their compact JSON text. The payload holds the same values so
    # a filter matches the same documents on both backends.
    meta = json.loads(json.dumps(dict(metadata), default=str))
    out["metadata"] = {k: _as_sqlite_value(v) for k, v in meta.items()}
    return out


def _as_sqlite_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return value


def _condition(key: str, value: Any, document_field: bool) -> qm.FieldCondition:
    if document_field:
        # Document columns are TEXT in SQLite: a number given for them compares as text.
        text = str(int(value)) if isinstance(value, bool) else str(value)
        return qm.FieldCondition(key=key, match=qm.MatchValue(value=text))
    if isinstance(value, (bool, int, float)):
        # SQLite compares numbers by value (5 = 5.0, true = 1): a range does too.
        number = float(value)
        return qm.FieldCondition(key=key, range=qm.Range(gte=number, lte=number))
    return qm.FieldCondition(key=key, match=qm.MatchValue(value=value))


def qdrant_filter(filters: Mapping[str, Any], source: FilterSource) -> qm.Filter | None:
    """``filters`` as a Qdrant payload filter; None when nothing can match."""
    must: list[qm.Condition] = []
    odd: dict[str, Any] = {}
    for key, value in filters.items():
        if key in DOCUMENT_FIELDS:
            must.append(_condition(key, value, document_field=True))
        elif _PLAIN_KEY.match(key):
            must.append(_condition(f"metadata.{key}", value, document_field=False))
        else:
            odd[key] = value
    if odd:
        # Keys that are no valid key path: the documents they match, by id.
        allowed = sorted(source.doc_ids_matching(odd))
        if not allowed:
            return None
        must.append(qm.FieldCondition(key="doc_id", match=qm.MatchAny(any=allowed)))
    return qm.Filter(must=must)


class QdrantReader:
    def __init__(self, location: Location, collection: str, dimension: int) -> None:
        self.description = f"collection {collection} in {location.describe()}"
        self._conn = _Connection(location, collection)
        try:
            if not self._conn.exists():
                raise QdrantUnavailable(f"{location.describe()} has no collection {collection}")
            size = self._conn.call("get_collection").config.params.vectors.size
            if size != dimension:
                raise QdrantUnavailable(
                    f"{self.description} holds {size}-dimensional vectors but the manifest "
                    f"says {dimension}"
                )
            self._count = self._conn.count()
        except BaseException:
            self._conn.release()
            raise

    def count(self) -> int:
        # A committed generation never changes: counted once.
        return self._count

    def search(
        self,
        query: np.ndarray,
        k: int,
        filters: Mapping[str, Any] | None,
        source: FilterSource,
    ) -> list[tuple[int, float]]:
        query_filter = None
        if filters:
            query_filter = qdrant_filter(filters, source)
            if query_filter is None:
                return []
        vector = np.asarray(query, dtype=np.float32).reshape(-1).tolist()
        response = self._conn.call(
            "query_points",
            query=vector,
            query_filter=query_filter,
            limit=k,
            with_payload=False,
        )
        return [(int(p.id), float(p.score)) for p in response.points]

    def vectors(self, ids: np.ndarray | list[int]) -> np.ndarray:
        wanted = [int(i) for i in ids]
        if not wanted:
            return np.zeros((0, self._dimension()), dtype=np.float32)
        found: dict[int, list[float]] = {}
        for start in range(0, len(wanted), BATCH):
            records = self._conn.call(
                "retrieve", wanted[start : start + BATCH], with_payload=False, with_vectors=True
            )
            found.update((int(r.id), r.vector) for r in records)
        missing = [i for i in wanted if i not in found]
        if missing:
            raise KeyError(f"{self.description} lacks passages {missing[:5]}")
        return np.asarray([found[i] for i in wanted], dtype=np.float32)

    def _dimension(self) -> int:
        return int(self._conn.call("get_collection").config.params.vectors.size)

    def batches(self, size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        offset: Any = None
        while True:
            records, offset = self._conn.call(
                "scroll", limit=size, offset=offset, with_payload=False, with_vectors=True
            )
            if records:
                yield (
                    np.array([int(r.id) for r in records], dtype=np.int64),
                    np.asarray([r.vector for r in records], dtype=np.float32),
                )
            if offset is None:
                return

    def close(self) -> None:
        self._conn.release()


def collection_name(prefix: str, generation: Path) -> str:
    return f"{prefix}-{generation.name}"


class QdrantWriter:
    """Builds a new generation's collection; the previous one is copied in by the caller."""

    def __init__(
        self,
        location: Location,
        prefix: str,
        generation: Path,
        dimension: int,
        *,
        replication_factor: int = 1,
        shards: int | None = None,
    ) -> None:
        self.location = location
        self.collection = collection_name(prefix, generation)
        (generation / MARKER).write_text(
            json.dumps({"collection": self.collection, **location.record()}), encoding="utf-8"
        )
        self._conn = _Connection(location, self.collection)
        try:
            if self._conn.exists():  # a leftover of a crash with the same name: never live
                self._conn.call("delete_collection")
            cluster: dict[str, int] = {}
            if location.url is not None:  # a server; local mode has no shards or replicas
                cluster["replication_factor"] = replication_factor
                if shards is not None:
                    cluster["shard_number"] = shards
            self._conn.call(
                "create_collection",
                vectors_config=qm.VectorParams(size=dimension, distance=qm.Distance.DOT),
                **cluster,
            )
            if location.url is not None:  # local mode ignores payload indexes (and warns)
                self._conn.call(
                    "create_payload_index",
                    field_name="doc_id",
                    field_schema=qm.PayloadSchemaType.KEYWORD,
                )
            self._storage = self._defer_local_syncs()
        except BaseException:
            self._conn.release()
            raise
        self._count = 0

    def _defer_local_syncs(self) -> Path | None:
        """Local mode commits each point to SQLite with an fsync (~75 points/s on a
        busy disk). A new generation's collection needs durability only once, before
        CURRENT names it: sync writes are turned off for it and :meth:`commit` fsyncs
        the file. Reaches into qdrant-client's local internals; if they change, writes
        stay per-point durable, only slower."""
        if self.location.path is None:
            return None
        local = getattr(self._conn._shared.client, "_client", None)
        collection = getattr(local, "collections", {}).get(self.collection)
        storage = getattr(getattr(collection, "storage", None), "storage", None)
        path = getattr(getattr(collection, "storage", None), "location", None)
        if not isinstance(storage, sqlite3.Connection) or not isinstance(path, Path):
            return None
        with self._conn.locked():
            storage.execute("PRAGMA synchronous = OFF")
        return path

    def count(self) -> int:
        return self._count

    def add(self, ids: np.ndarray, vectors: np.ndarray, payloads: list[dict[str, Any]]) -> None:
        ids_list = [int(i) for i in ids]
        vectors = np.asarray(vectors, dtype=np.float32)
        for start in range(0, len(ids_list), BATCH):
            end = start + BATCH
            self._conn.call(
                "upsert",
                points=qm.Batch(
                    ids=ids_list[start:end],
                    vectors=vectors[start:end].tolist(),
                    payloads=payloads[start:end],
                ),
                wait=True,
            )
        self._count += len(ids_list)

    def remove(self, ids: np.ndarray) -> None:
        ids_list = [int(i) for i in ids]
        if ids_list:
            self._conn.call(
                "delete",
                points_selector=qm.PointIdsList(points=ids_list),
                wait=True,
            )
            self._count -= len(ids_list)

    def commit(self, generation: Path) -> tuple[list[Path], dict[str, Any]]:
        stored = self._conn.count()
        if stored != self._count:
            raise RuntimeError(
                f"{self.collection} holds {stored} points, expected {self._count}; not committing"
            )
        self._conn.release()
        entry = {"kind": "qdrant", "collection": self.collection, **self.location.record()}
        # The caller fsyncs these before switching CURRENT.
        synced = [generation / MARKER]
        if self._storage is not None:
            synced += [self._storage, self._storage.parent]
        return synced, entry

    def abort(self) -> None:
        try:
            self._conn.call("delete_collection")
        except Exception as exc:  # the folder goes anyway; the collection is named in the log
            log.warning("could not delete Qdrant collection %s: %s", self.collection, exc)
        self._conn.release()


def drop_collection(marker: Path, override: BackendConfig | None) -> None:
    """Delete the collection a (stale) generation's marker names; log, never raise."""
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        location = reading_location(data, override)
        conn = _Connection(location, str(data["collection"]))
        try:
            if conn.exists():
                conn.call("delete_collection")
        finally:
            conn.release()
    except Exception as exc:
        log.warning("could not delete the Qdrant collection named in %s: %s", marker, exc)


def reading_location(recorded: Mapping[str, Any], config: BackendConfig | None) -> Location:
    """Where to find a generation's collection: the configured Qdrant if one is
    set (a deployment may reach the same server by another name), else where
    the manifest says it was written."""
    if config is not None and (config.url or config.path):
        return Location.of(config)
    path = recorded.get("path")
    return Location(
        recorded.get("url"),
        Path(path) if path else None,
        config.api_key if config is not None else None,
    )
