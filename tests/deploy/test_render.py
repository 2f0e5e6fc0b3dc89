"""deploy/nginx/render.py: the production template, filled or refused clearly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from deploy.nginx.render import TEMPLATE, RenderError, render, render_text
from tests.deploy.proxy import NginxMissing, nginx_binary


def test_renders_every_placeholder_and_nginx_accepts_it(tmp_path: Path) -> None:
    text = render(["127.0.0.1:8001", "127.0.0.1:8002"], "127.0.0.1:8080", tmp_path)
    assert "${" not in text
    assert "server 127.0.0.1:8001 max_fails=2 fail_timeout=5s;" in text
    assert f"pid {tmp_path.resolve()}/nginx.pid;" in text
    conf = tmp_path / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    try:
        binary = nginx_binary()
    except NginxMissing as exc:
        pytest.fail(str(exc))
    check = subprocess.run(
        [binary, "-t", "-q", "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "e.log")],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize(
    ("upstreams", "message"),
    [([], "at least one replica"), (["localhost"], "not host:port"), (["a b:1"], "not host:port")],
)
def test_bad_replica_addresses_are_refused(
    upstreams: list[str], message: str, tmp_path: Path
) -> None:
    with pytest.raises(RenderError, match=message):
        render(upstreams, "8080", tmp_path)


def test_an_unfilled_placeholder_is_an_error_not_a_broken_config() -> None:
    template = TEMPLATE.read_text(encoding="utf-8") + "\n# ${NGINX_SOMETHING_NEW}\n"
    with pytest.raises(RenderError, match="NGINX_SOMETHING_NEW"):
        render_text(template, {})


def test_the_command_line_fails_with_a_message(tmp_path: Path) -> None:
    script = TEMPLATE.with_name("render.py")
    run = subprocess.run(
        [sys.executable, str(script), "--runtime-dir", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and "at least one replica" in run.stderr and not run.stdout
    run = subprocess.run(
        [sys.executable, str(script), "--runtime-dir", str(tmp_path), "--upstream", "h:1"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and "server h:1 " in run.stdout
