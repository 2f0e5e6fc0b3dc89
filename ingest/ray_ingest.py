"""Ingest on a Ray cluster: the same job as ``ingest.pipeline``, with the heavy stages spread out.

- reading, cleaning, hashing and chunking run as Ray Data tasks, one input file per
  task (a JSONL file is one unit: split a huge corpus into shards to read it in parallel);
- embedding runs in an actor pool: each actor loads the model once and embeds
  batches of documents;
- the driver keeps the incremental decisions and every write: it receives the
  prepared, embedded documents in input order and hands them to the same
  ``Ingestor`` logic and ``IndexWriter`` calls as a plain ingest, so both build the
  same index and content hashes agree either way.

Input paths must be readable at the same path on every node (a local cluster, or a
shared file system on a real one). Ray is imported only here, lazily.

Sizing (bench/ray_ingest.py has the numbers and the full note): embedding is the
bottleneck on CPUs (~28 passages/s on this 2-core box, against ~1,900/s for one
core reading and chunking), so throughput grows about linearly with embedding
actors until the driver's single-threaded writing (SQLite inserts, FAISS adds,
term counts, the commit) caps it, at a few thousand passages/s.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.models import Failure
from index.vector_store import BackendConfig
from ingest.chunker import Chunker, ChunkerSettings
from ingest.pipeline import (
    Ingestor,
    ModelInfo,
    PreparedDoc,
    PreparedFile,
    PrepareSpec,
    prepare_file,
)
from ingest.readers import DEFAULT_MAX_BYTES

if TYPE_CHECKING:
    import ray.data

    from index.embedder import EmbedderConfig

ROOT = Path(__file__).resolve().parents[1]
LOCAL = "local"
# Worker processes read the bundled model and tiktoken file; nothing may reach for a hub.
_WORKER_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
_HEADER = -1  # row ``item`` of a file's header (its failures and document count)


@dataclass(frozen=True)
class RayOptions:
    """How to run on Ray; the defaults suit a small local machine (2 cores)."""

    address: str = LOCAL  # "local" starts a cluster here; "auto", "ray://HOST:10001", HOST:PORT
    actors: int = 1  # embedding actors, each with its own copy of the model
    batch_size: int = 64  # documents per embedding call of an actor
    actor_cpus: float = 1.0  # CPUs reserved per actor; the rest run reading tasks
    embed_threads: int | None = None  # torch threads per actor (None: torch's default)
    embedder: EmbedderConfig | None = None  # backend and device of the actors' embedders
    gpus_per_actor: float = 0.0  # Ray GPUs reserved per actor (with device cuda)
    # The settings' tiktoken file (None: the bundled one), made each worker's default.
    tiktoken_bpe: Path | None = None
    # For a local cluster only: an existing cluster has its own resources.
    num_cpus: int | None = None
    object_store_mb: int = 512
    env: Mapping[str, str] = field(default_factory=dict)


def check_address(address: str) -> str:
    """The address, or a ValueError a user can act on (often a path taken for an address)."""
    if address in (LOCAL, "auto") or address.startswith("ray://"):
        return address
    host, _, port = address.rpartition(":")
    if host and port.isdigit() and "/" not in host:
        return address
    raise ValueError(
        f"{address!r} is not a Ray address: use local, auto, ray://HOST:10001 or HOST:PORT"
    )


def bundled_model_info() -> ModelInfo:
    """Name and dimension of the bundled model, read from its files: the driver of a Ray
    ingest never loads the model (each actor checks it agrees)."""
    from index.embedder import DEFAULT_MODEL_NAME, bundled_model_path

    path = bundled_model_path()
    dimension: int | None = None
    for module in json.loads((path / "modules.json").read_text(encoding="utf-8")):
        config = path / module["path"] / "config.json"
        if module["type"].endswith(".Pooling"):
            dimension = int(
                json.loads(config.read_text(encoding="utf-8"))["word_embedding_dimension"]
            )
        elif module["type"].endswith(".Dense"):
            dimension = int(json.loads(config.read_text(encoding="utf-8"))["out_features"])
    if dimension is None:
        raise RuntimeError(f"cannot tell the embedding dimension of the model in {path}")
    return ModelInfo(DEFAULT_MODEL_NAME, dimension)


@contextlib.contextmanager
def ray_cluster(options: RayOptions) -> Iterator[None]:
    """Connect to (or start) a cluster for the duration of the block.

    A cluster this process joined already (``ray.init`` called by the caller) is used
    as it is and left running.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if ray.is_initialized():
        yield
        return
    env = {**_WORKER_ENV, **options.env}
    kwargs: dict[str, Any] = {}
    if options.address == LOCAL:
        # Workers of a local cluster run this Python; make the project importable
        # without uploading a working_dir.
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
        )
        kwargs.update(
            num_cpus=options.num_cpus or os.cpu_count() or 1,
            object_store_memory=options.object_store_mb * 1024 * 1024,
        )
    ray.init(
        address=None if options.address == LOCAL else check_address(options.address),
        include_dashboard=False,
        log_to_driver=False,
        # Ray's start-up notices would drown the progress bar; failures still raise.
        logging_level=logging.ERROR,
        runtime_env={"env_vars": env},
        **kwargs,
    )
    try:
        yield
    finally:
        ray.shutdown()


# -- work done in Ray workers ------------------------------------------------------


@dataclass
class _Header:
    path: Path
    origin: str
    failures: list[Failure]
    documents: int


@lru_cache(maxsize=4)
def _worker_chunker(settings: ChunkerSettings, tiktoken_bpe: Path | None = None) -> Chunker:
    """One chunker per worker process and settings: loading the tokenizer takes seconds."""
    from transformers import AutoTokenizer

    from index.embedder import bundled_model_path
    from index.tokens import use_bpe_file

    # A worker is its own process: the driver's choice of file travels with the task.
    use_bpe_file(tiktoken_bpe)

    # The tokenizer SentenceTransformer loads for the model, so word-piece counts (and
    # thus chunks) match a plain ingest exactly.
    tokenizer = AutoTokenizer.from_pretrained(str(bundled_model_path()))

    def wordpieces(texts: list[str]) -> list[int]:
        if not texts:
            return []
        return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]

    return Chunker(settings, wordpieces=wordpieces)


_stored_cache: dict[str, Mapping[str, str]] = {}


def _stored_hashes(ref: Any) -> Any:
    import ray

    if not isinstance(ref, ray.ObjectRef):
        return ref
    key = ref.hex()
    if key not in _stored_cache:
        _stored_cache.clear()  # one run at a time per worker: keep only the latest
        _stored_cache[key] = ray.get(ref)
    return _stored_cache[key]


def _prepare_rows(
    row: dict[str, Any], spec: PrepareSpec, stored: Any, tiktoken_bpe: Path | None = None
) -> list[dict[str, Any]]:
    """Ray Data task: read, clean, hash and chunk one file; one row per document."""
    prepared = prepare_file(
        Path(row["path"]),
        Path(row["root"]),
        spec,
        _worker_chunker(spec.chunker, tiktoken_bpe),
        _stored_hashes(stored),
    )
    header = _Header(prepared.path, prepared.origin, prepared.failures, len(prepared.docs))
    rows = [{"file": row["file"], "item": _HEADER, "blob": pickle.dumps(header)}]
    rows.extend(
        {"file": row["file"], "item": i, "blob": pickle.dumps(doc)}
        for i, doc in enumerate(prepared.docs)
    )
    return rows


class EmbedActor:
    """Ray Data actor: loads the model once, then embeds the chunks of document batches."""

    def __init__(
        self, expected: ModelInfo, threads: int | None, config: EmbedderConfig | None = None
    ) -> None:
        from index.embedder import Embedder

        self.embedder = Embedder(threads=threads, config=config)
        if (self.embedder.name, self.embedder.dimension) != (expected.name, expected.dimension):
            raise RuntimeError(
                f"the actor loaded {self.embedder.name} ({self.embedder.dimension} dims) but "
                f"the driver expected {expected.name} ({expected.dimension} dims)"
            )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        blobs = list(batch["blob"])
        docs: list[tuple[int, PreparedDoc]] = [
            (i, pickle.loads(blobs[i]))
            for i, item in enumerate(batch["item"])
            if int(item) != _HEADER
        ]
        todo = [(i, d) for i, d in docs if d.chunks is not None]
        vectors = self.embedder.encode([c.text for _, d in todo for c in d.chunks or []])
        offset = 0
        for i, doc in todo:
            n = len(doc.chunks or [])
            doc.vectors = vectors[offset : offset + n]
            offset += n
            blobs[i] = pickle.dumps(doc)
        out = np.empty(len(blobs), dtype=object)
        out[:] = blobs
        return {"file": batch["file"], "item": batch["item"], "blob": out}


# -- the stages, driven from the ingest process ---------------------------------------


class RayStages:
    """``ingest.pipeline.Stages`` on Ray Data; needs a connected cluster (``ray_cluster``)."""

    def __init__(self, model: ModelInfo, options: RayOptions | None = None) -> None:
        self.model = model
        self.options = options or RayOptions()
        if self.options.actors < 1 or self.options.batch_size < 1:
            raise ValueError("actors and batch size must be at least 1")

    def prepare(
        self, files: Sequence[tuple[Path, Path]], stored: Mapping[str, str], spec: PrepareSpec
    ) -> Iterator[PreparedFile]:
        if not files:
            return
        import ray

        ds = self._dataset(files, ray.put(dict(stored)), spec)
        yield from _in_order(ds.iter_rows(), len(files))

    def embed(self, texts: list[str]) -> np.ndarray:
        if texts:
            raise RuntimeError("the Ray stages embed in their actors; nothing is left to embed")
        return np.zeros((0, self.model.dimension), dtype=np.float32)

    def _dataset(
        self, files: Sequence[tuple[Path, Path]], stored_ref: Any, spec: PrepareSpec
    ) -> ray.data.Dataset:
        import ray.data

        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        # Rows come back roughly in input order, so the driver buffers little.
        context.execution_options.preserve_order = True
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        opts = self.options
        read_cpus, actor_cpus, threads = self._fit(float(ray.cluster_resources().get("CPU", 1)))
        items = [
            {"file": i, "path": str(path), "root": str(root)}
            for i, (path, root) in enumerate(files)
        ]
        return (
            ray.data.from_items(items, override_num_blocks=min(len(items), 1000))
            .flat_map(
                partial(
                    _prepare_rows, spec=spec, stored=stored_ref, tiktoken_bpe=opts.tiktoken_bpe
                ),
                num_cpus=read_cpus,
            )
            .map_batches(
                EmbedActor,
                fn_constructor_kwargs={
                    "expected": self.model,
                    "threads": threads,
                    "config": opts.embedder,
                },
                compute=ray.data.ActorPoolStrategy(size=opts.actors),
                batch_size=opts.batch_size,
                batch_format="numpy",
                num_cpus=actor_cpus,
                num_gpus=opts.gpus_per_actor or None,
            )
        )

    def _fit(self, cpus: float) -> tuple[float, float, int | None]:
        """CPUs reserved per reading task and per actor, and torch threads per actor.

        Actors hold their CPUs for the whole run, so they must leave some for the
        reading tasks that feed them, or the pipeline stalls.
        """
        opts = self.options
        read = min(1.0, cpus / 2)
        actor = min(opts.actor_cpus, (cpus - read) / opts.actors)
        threads = opts.embed_threads
        if threads is None and opts.address == LOCAL:
            # Reading ends early while embedding goes on: give the actors every core.
            threads = max(1, int(cpus // opts.actors))
        return read, actor, threads


def _in_order(rows: Iterable[dict[str, Any]], total: int) -> Iterator[PreparedFile]:
    """Reassemble files from document rows and release them in input order."""
    headers: dict[int, _Header] = {}
    docs: dict[int, dict[int, PreparedDoc]] = {}
    next_file = 0

    def ready(f: int) -> bool:
        return f in headers and len(docs.get(f, {})) == headers[f].documents

    for row in rows:
        f, item = int(row["file"]), int(row["item"])
        if item == _HEADER:
            headers[f] = pickle.loads(row["blob"])
        else:
            docs.setdefault(f, {})[item] = pickle.loads(row["blob"])
        while next_file < total and ready(next_file):
            header = headers.pop(next_file)
            got = docs.pop(next_file, {})
            yield PreparedFile(
                header.path, header.origin, header.failures, [got[i] for i in sorted(got)]
            )
            next_file += 1
    if next_file != total:
        raise RuntimeError(f"the Ray pipeline returned {next_file} of {total} files")


def ray_ingestor(
    index_dir: Path,
    chunker_settings: ChunkerSettings | None = None,
    *,
    max_file_bytes: int = DEFAULT_MAX_BYTES,
    options: RayOptions | None = None,
    backend: BackendConfig | None = None,
) -> Ingestor:
    """An Ingestor whose stages run on Ray; call its ``run`` inside ``ray_cluster``.

    With a runtime backend (onnx, openvino) the driver loads the model once: it
    exports it for the actors (which share the export folder on a local cluster),
    learns whether the runtime works here (else torch, as each actor would fall back)
    and can check the vectors against an index built with another backend."""
    import dataclasses

    from index.embedder import EmbedderConfig

    model = bundled_model_info()
    options = options or RayOptions()
    config = options.embedder or EmbedderConfig()

    def check_encode(texts: list[str]) -> np.ndarray:
        # Loaded only when the index was built with another backend.
        from index.embedder import Embedder

        return Embedder(config=dataclasses.replace(config, device="cpu")).encode(texts)

    if options.embedder is not None and options.embedder.backend != "torch":
        from index.embedder import Embedder

        probe = Embedder(config=dataclasses.replace(options.embedder, device="cpu"))
        runs = probe.backend
        model = dataclasses.replace(model, backend=runs)
        options = dataclasses.replace(
            options, embedder=dataclasses.replace(options.embedder, backend=runs)
        )
        check_encode = probe.encode
    return Ingestor(
        model,
        index_dir,
        chunker_settings,
        max_file_bytes=max_file_bytes,
        stages=RayStages(model, options),
        backend=backend,
        check_encode=check_encode,
    )
