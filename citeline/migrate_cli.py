"""``citeline migrate --to qdrant|faiss``: move an index's vectors to another backend.

Registered in ``citeline/cli.py``. The stored vectors are copied (no text is
re-embedded, the model is never loaded) into a new generation that the
CURRENT swap makes live, like any ingest: a server watching the index picks it
up, and an interrupted migration leaves the old generation live.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Literal

import typer

from citeline.console import err, fail, out
from citeline.console import settings as settings_for


def migrate(
    to: Annotated[
        str, typer.Option("--to", help="Backend to move the vectors to: qdrant or faiss")
    ],
    index: Annotated[
        Path | None,
        typer.Option(
            "--index", "-i", help="Index directory [default: $CITELINE_INDEX or var/index]"
        ),
    ] = None,
    qdrant_url: Annotated[
        str | None, typer.Option(help="Qdrant server [default: $CITELINE_QDRANT_URL]")
    ] = None,
    qdrant_path: Annotated[
        Path | None,
        typer.Option(help="Qdrant local-mode folder [default: $CITELINE_QDRANT_PATH]"),
    ] = None,
    collection: Annotated[
        str | None,
        typer.Option(help="Qdrant collection prefix [default: $CITELINE_QDRANT_COLLECTION]"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines")] = False,
) -> None:
    """Copy the index's vectors to another backend, without re-embedding, and switch to it."""
    from index.store import Index, IndexUnavailable, IndexWriter
    from index.vector_store import BACKENDS, BackendConfig

    if to not in BACKENDS:
        raise fail(f"--to must be one of {', '.join(BACKENDS)}, not {to!r}")
    target: Literal["faiss", "qdrant"] = "qdrant" if to == "qdrant" else "faiss"
    settings = settings_for()
    root = index or settings.index
    config = BackendConfig.from_settings(settings.backend)
    if qdrant_url or qdrant_path:
        config = BackendConfig(
            kind=config.kind,
            url=qdrant_url,
            path=qdrant_path.resolve() if qdrant_path else None,
            collection=config.collection,
            api_key=config.api_key,
        )
    config = BackendConfig(
        kind=target,
        url=config.url,
        path=config.path,
        collection=collection or config.collection,
        api_key=config.api_key,
    )

    started = time.perf_counter()
    try:
        # Fails with the reason before anything is written (missing, damaged, unreachable).
        with Index.open(root, config) as live:
            manifest = live.manifest
            source = live.backend
        if source == target:
            message = f"{root} already keeps its vectors in {target}; nothing to do"
            if as_json:
                out.print_json(json.dumps({"migrated": False, "backend": target}))
            else:
                err.print(message, highlight=False)
            return
        with IndexWriter(
            root,
            embedder=manifest.embedder,
            dimension=manifest.dimension,
            chunker=manifest.chunker,
            backend=config,
        ) as writer:
            copied = writer.chunk_count
            new = writer.commit()
    except IndexUnavailable as exc:
        raise fail(str(exc)) from None
    seconds = time.perf_counter() - started
    summary = {
        "migrated": True,
        "from": source,
        "to": target,
        "vectors": copied,
        "documents": new.documents,
        "generation": new.generation,
        "where": {k: v for k, v in new.vectors.items() if k != "kind"},
        "seconds": round(seconds, 2),
    }
    if as_json:
        out.print_json(json.dumps(summary))
        return
    where = ", ".join(f"{k} {v}" for k, v in summary["where"].items() if v)  # type: ignore[attr-defined]
    out.print(
        f"Copied {copied} vectors ({new.documents} documents) from {source} to {target}"
        f"{f' ({where})' if where else ''} in {seconds:.1f} s; generation {new.generation} "
        "is live. Nothing was re-embedded.",
        highlight=False,
    )
