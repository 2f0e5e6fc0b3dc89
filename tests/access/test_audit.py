from __future__ import annotations

import json
from pathlib import Path

from access.audit import AuditLog


def test_one_json_line_per_request(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit" / "audit.log")
    log.write(key="ka", route="/v1/search", method="POST", status=200, collections=["a"])
    log.write(key="-", route="/v1/ask", method="POST", status=401)
    log.close()
    lines = (tmp_path / "audit" / "audit.log").read_text().splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["key"] == "ka" and first["collections"] == ["a"] and first["status"] == 200
    assert first["time"].endswith("Z") and "collections" not in second
    assert not AuditLog(None).enabled
