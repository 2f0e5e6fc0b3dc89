"""``citeline ingest`` (the real CLI) that stops at one chosen point, for kill -9 tests.

``CITELINE_TEST_PAUSE_AT`` names the point; on reaching it the process prints
``PAUSED <point>`` on stdout and sleeps until the test kills it:

- ``embedding``: inside the first batch embedding (the new generation is open,
  passages are being written to its SQLite copy, nothing is committed)
- ``vectors``: vectors.faiss of the new generation half written (a torn file)
- ``pointer``: every file of the new generation written, CURRENT not yet replaced
- ``after-pointer``: CURRENT replaced, old generations not yet cleaned, lock held

Test-only: it wraps library functions in this process; the product never reads
the variable. Usage: ``python -m tests.robustness.ingest_paused ingest PATH --index DIR``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

POINT = os.environ.get("CITELINE_TEST_PAUSE_AT", "")
POINTS = ("embedding", "vectors", "pointer", "after-pointer")


def pause(point: str) -> None:
    print(f"PAUSED {point}", flush=True)
    time.sleep(600)
    sys.exit(3)  # never reached in the tests: they kill -9 first


def _install() -> None:
    if POINT not in POINTS:
        raise SystemExit(f"CITELINE_TEST_PAUSE_AT must be one of {POINTS}, not {POINT!r}")
    if POINT == "embedding":
        from index.embedder import Embedder

        encode = Embedder.encode

        def paused_encode(self: Embedder, texts: list[str], **kwargs: Any) -> Any:
            if len(texts) > 1:  # ingest batches; a query is one text
                pause("embedding")
            return encode(self, texts, **kwargs)

        Embedder.encode = paused_encode  # type: ignore[method-assign]
    elif POINT == "vectors":
        import index.store as store

        write_index = store.faiss.write_index

        def torn_write(index: Any, path: str) -> None:
            write_index(index, path)
            os.truncate(path, os.path.getsize(path) // 2)
            pause("vectors")

        store.faiss.write_index = torn_write  # type: ignore[assignment]
    else:
        import index.store as store

        replace = os.replace

        def paused_replace(src: Any, dst: Any, **kwargs: Any) -> None:
            if Path(dst).name != store.CURRENT:
                replace(src, dst, **kwargs)
                return
            if POINT == "pointer":
                pause("pointer")
            replace(src, dst, **kwargs)
            pause("after-pointer")

        store.os.replace = paused_replace


if __name__ == "__main__":
    _install()
    from citeline.cli import app

    app()
