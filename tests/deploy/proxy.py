"""Debian's nginx, started as the current user in front of ``citeline serve`` replicas,
with deploy/nginx/citeline.conf rendered for them (the production file, not a copy).

Used by tests/deploy and bench/replicas.py. ``make nginx`` installs nginx.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from deploy.nginx.render import render
from tests.conftest import free_port


class NginxMissing(RuntimeError):
    pass


def nginx_binary() -> str:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        raise NginxMissing("nginx is not installed: run `make nginx` (.ci/install-nginx.sh)")
    return found


@dataclass
class Nginx:
    proc: subprocess.Popen[bytes]
    url: str
    runtime_dir: Path

    @property
    def access_log(self) -> Path:
        return self.runtime_dir / "access.log"

    def entries(self) -> list[dict[str, Any]]:
        """The access log, one dict per request (the config logs JSON lines)."""
        if not self.access_log.exists():
            return []
        lines = self.access_log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def entry(self, match: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> bool:
        """Whether a log entry ``match``es within ``timeout`` s: nginx writes the line
        after the response has gone out, so the client can look before it is there."""
        deadline = time.monotonic() + timeout
        while True:
            if any(match(e) for e in self.entries()):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_nginx(upstreams: Sequence[str], runtime_dir: Path) -> Nginx:
    """Render the config for ``upstreams`` (host:port), check it, start nginx on a free
    127.0.0.1 port in the foreground and wait until its /healthz answers."""
    binary = nginx_binary()
    runtime_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = runtime_dir / "nginx.conf"
    conf.write_text(render(upstreams, f"127.0.0.1:{port}", runtime_dir), encoding="utf-8")
    # -e: errors before the config's error_log is open go here, not /var/log/nginx.
    base = [binary, "-c", str(conf), "-p", str(runtime_dir), "-e", str(runtime_dir / "early.log")]
    check = subprocess.run([*base, "-t", "-q"], capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"nginx rejected {conf}: {check.stderr}")
    stderr = open(runtime_dir / "stderr.log", "wb")  # noqa: SIM115 - lives with the process
    proc = subprocess.Popen([*base, "-g", "daemon off;"], stdout=stderr, stderr=stderr)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            errors = (runtime_dir / "error.log").read_text(errors="replace")
            raise RuntimeError(f"nginx exited with {proc.returncode}: {errors}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return Nginx(proc, url, runtime_dir)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("nginx did not answer /healthz within 20 s")
