"""Render deploy/nginx/citeline.conf for a set of replicas (plain hosts, tests, bench).

    python deploy/nginx/render.py --upstream 127.0.0.1:8001 --upstream 127.0.0.1:8002 \\
        --listen 127.0.0.1:8080 --runtime-dir /var/lib/citeline-nginx > citeline-nginx.conf
    nginx -c "$PWD/citeline-nginx.conf" -g 'daemon off;'

Only ``${NAME}`` placeholders of the names below are replaced, like the nginx
image's envsubst step that renders the same file in docker-compose.yml; a
placeholder left unfilled is an error, never an nginx config with a literal
``${...}`` in it.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

TEMPLATE = Path(__file__).resolve().with_name("citeline.conf")
# The passive health check of every replica (docker-compose.yml's
# NGINX_UPSTREAM_SERVERS uses the same; tests/deploy/test_compose.py checks it).
SERVER_PARAMS = "max_fails=2 fail_timeout=5s"
DEFAULT_MAX_BODY_BYTES = 256 * 1024  # CITELINE_MAX_BODY_BYTES's default (citeline/settings.py)
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


class RenderError(ValueError):
    pass


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def server_lines(upstreams: Sequence[str], extra: str = "") -> str:
    """The upstream block's ``server`` lines, one per replica address (host:port)."""
    if not upstreams:
        raise RenderError("at least one replica address (--upstream host:port) is needed")
    lines = []
    for address in upstreams:
        if not re.fullmatch(r"[A-Za-z0-9._\-\[\]:]+:\d{1,5}", address):
            raise RenderError(f"replica address {address!r} is not host:port")
        lines.append(f"server {address}{' ' + extra if extra else ''} {SERVER_PARAMS};")
    return "\n        ".join(lines)


def render_text(template: str, values: Mapping[str, str]) -> str:
    missing = placeholders(template) - set(values)
    if missing:
        raise RenderError(f"no value for {', '.join(sorted(missing))}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def render(
    upstreams: Sequence[str],
    listen: str,
    runtime_dir: Path,
    *,
    access_log: str | None = None,
    error_log: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    template: Path = TEMPLATE,
) -> str:
    """The config text: pid file, temp folders and (by default) logs in ``runtime_dir``."""
    runtime_dir = runtime_dir.resolve()
    return render_text(
        template.read_text(encoding="utf-8"),
        {
            "NGINX_UPSTREAM_SERVERS": server_lines(upstreams),
            "NGINX_LISTEN": listen,
            "NGINX_RUNTIME_DIR": str(runtime_dir),
            "NGINX_ACCESS_LOG": access_log or str(runtime_dir / "access.log"),
            "NGINX_ERROR_LOG": error_log or str(runtime_dir / "error.log"),
            "NGINX_RESOLVER": "",
            "CITELINE_MAX_BODY_BYTES": str(max_body_bytes),
        },
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", action="append", default=[], help="replica host:port")
    parser.add_argument("--listen", default="127.0.0.1:8080")
    parser.add_argument("--runtime-dir", type=Path, required=True, help="pid, temp files, logs")
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    args = parser.parse_args(argv)
    try:
        text = render(
            args.upstream, args.listen, args.runtime_dir, max_body_bytes=args.max_body_bytes
        )
    except RenderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
