"""The audit log: one JSON line per request, to a file or stdout.

Each line: ``time`` (UTC, ISO 8601), ``key`` (the key's name from the keys file, or
``env-reader-<digest>`` / ``env-admin-<digest>`` for environment keys, ``anonymous``
without keys, ``-`` when no valid key was sent; never the key itself), ``route`` (the
route template, e.g. ``/v1/documents/{doc_id}``, so no document id or query is logged),
``method``, ``collections`` (what the request covered, as resolved; absent when it
covered none), ``status`` and ``request_id``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO


class AuditLog:
    def __init__(self, target: str | Path | None) -> None:
        """``target``: a file path (appended to), ``-`` or ``stdout``; None: off."""
        self._lock = threading.Lock()
        self._fh: IO[str] | None
        if target is None or str(target) == "":
            self._fh = None
        elif str(target) in ("-", "stdout"):
            self._fh = sys.stdout
        else:
            path = Path(target)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        self._owned = self._fh is not None and self._fh is not sys.stdout

    @property
    def enabled(self) -> bool:
        return self._fh is not None

    def write(
        self,
        *,
        key: str,
        route: str,
        method: str,
        status: int,
        collections: Sequence[str] | None = None,
        request_id: str | None = None,
    ) -> None:
        if self._fh is None:
            return
        now = time.time()
        record: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
            + f".{int(now % 1 * 1000):03d}Z",
            "key": key,
            "method": method,
            "route": route,
            "status": status,
        }
        if collections is not None:
            record["collections"] = list(collections)
        if request_id:
            record["request_id"] = request_id
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            self._fh.write(line)
            self._fh.flush()

    def close(self) -> None:
        if self._owned and self._fh is not None:
            self._fh.close()
            self._fh = None
