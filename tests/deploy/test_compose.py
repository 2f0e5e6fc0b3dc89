"""docker-compose.yml and the Dockerfile cannot drift from the code.

Docker cannot run on the project's machines, so the compose file is checked
statically: its YAML, every CITELINE_* variable it (or the Dockerfile, or the nginx
template) names against the settings classes, the values it passes against those
classes' validation, and every command it runs against the real CLIs' parsers.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import typer.main
import yaml
from pydantic import AliasChoices

from citeline.cli import app
from citeline.settings import GROUPS, Settings
from deploy.nginx.render import TEMPLATE, placeholders, render_text, server_lines
from tests.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
PROFILES = {"api", "qdrant", "ray", "llm", "sync"}
# ${VAR}, ${VAR:-default}, ${VAR-default}: what compose interpolates from the shell.
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def settings_variables() -> set[str]:
    """Every environment variable the settings classes read."""
    names: set[str] = set()
    for cls in (Settings, *GROUPS.values()):
        prefix = str(cls.model_config.get("env_prefix", ""))
        for name, field in cls.model_fields.items():
            if cls is Settings and name in GROUPS:
                continue  # a group: its own variables are listed with it
            alias = field.validation_alias
            if isinstance(alias, AliasChoices):
                names.update(str(c).upper() for c in alias.choices if isinstance(c, str))
            else:
                names.add(f"{prefix}{name}".upper())
    return names


def interpolate(value: str, shell: Mapping[str, str]) -> str:
    return INTERPOLATION.sub(lambda m: shell.get(m[1]) or (m[2] or ""), value)


def environment(service: dict[str, Any], shell: Mapping[str, str]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: interpolate(str(v), shell) for k, v in env.items() if v is not None}


def commands(compose: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    for name, service in services(compose).items():
        command = service.get("command")
        if command is not None:
            assert isinstance(command, list), f"{name}: write commands as lists (no shell)"
            yield name, [interpolate(str(part), {}) for part in command]


def dockerfile_cmd() -> list[str]:
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("CMD "):
            return list(json.loads(line[4:]))
    raise AssertionError("the Dockerfile has no CMD")


def parse_error(group: Any, program: str, args: list[str]) -> str | None:
    """Parse ``args`` as the real CLI would, without running anything: the usage error,
    or None. ``group`` is a click group (typer carries its own copy of click)."""
    root = group.context_class(group, info_name=program)
    sub = group.get_command(root, args[0])
    if sub is None:
        return f"`{program} {args[0]}` is not a command"
    try:
        sub.make_context(args[0], list(args[1:]), parent=root)
    except Exception as exc:
        if hasattr(exc, "format_message"):  # click's UsageError, BadParameter...
            return str(exc.format_message())
        raise
    return None


def test_every_citeline_variable_is_a_setting() -> None:
    known = settings_variables()
    for path in (COMPOSE, DOCKERFILE, TEMPLATE):
        named = set(re.findall(r"\bCITELINE_[A-Z0-9_]+", path.read_text(encoding="utf-8")))
        unknown = named - known
        assert not unknown, f"{path.name} names variables no settings class reads: {unknown}"


def test_default_values_pass_the_settings_validation(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`docker compose up` with no variables set in the shell starts valid servers."""
    for name in ("ingest", "api"):
        env = environment(services(compose)[name], shell={})
        for key in [k for k in os.environ if k.startswith("CITELINE_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = Settings(_env_file=None)
        assert settings.backend.index_backend == "faiss"
        assert not settings.llm.base_url  # extractive unless profile llm is configured


def test_every_citeline_command_parses(compose: dict[str, Any]) -> None:
    cli = typer.main.get_command(app)
    runs = [(name, cmd) for name, cmd in commands(compose) if cmd[0] == "citeline"]
    runs.append(("Dockerfile CMD", dockerfile_cmd()))
    assert {name for name, _ in runs} >= {"ingest", "api", "ingest-ray", "Dockerfile CMD"}
    for name, cmd in runs:
        error = parse_error(cli, "citeline", cmd[1:])
        assert error is None, f"{name}: `{' '.join(cmd)}`: {error}"


def test_every_ray_command_parses(compose: dict[str, Any]) -> None:
    scripts = pytest.importorskip("ray.scripts.scripts", reason="`make scale` installs Ray")
    runs = [(name, cmd) for name, cmd in commands(compose) if cmd[0] == "ray"]
    assert {name for name, _ in runs} == {"ray-head", "ray-worker"}
    for name, service in services(compose).items():
        probe = (service.get("healthcheck") or {}).get("test", [])
        if probe[:2] == ["CMD", "ray"]:
            runs.append((f"{name} healthcheck", probe[1:]))
    for name, cmd in runs:
        error = parse_error(scripts.cli, "ray", cmd[1:])
        assert error is None, f"{name}: `{' '.join(cmd)}`: {error}"


def test_profiles_and_the_default(compose: dict[str, Any]) -> None:
    every = services(compose)
    default = {n for n, s in every.items() if not s.get("profiles")}
    assert default == {"ingest", "api"}, "`docker compose up` is ingest + api"
    used = {p for s in every.values() for p in s.get("profiles", [])}
    assert used == PROFILES
    for name, service in every.items():
        for dep, spec in (service.get("depends_on") or {}).items():
            assert dep in every, f"{name} depends on a missing service {dep}"
            needed_profiles = set(every[dep].get("profiles", []))
            if needed_profiles - set(service.get("profiles", [])):
                # A default service may wait for a profile's service only optionally.
                assert spec.get("required") is False, f"{name} -> {dep} must be optional"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith(("$", ".", "/")):
                assert source in (compose.get("volumes") or {}), f"{name}: volume {source}"
            elif source.startswith("./"):
                assert (ROOT / source).exists() or source in ("./articles", "./models"), source


def test_api_scales_behind_nginx(compose: dict[str, Any]) -> None:
    api, nginx = services(compose)["api"], services(compose)["nginx"]
    # A fixed host port would make `--scale api=3` fail on the second replica.
    for port in api.get("ports", []):
        host_port = port.rsplit(":", 1)[0].rsplit(":", 1)[-1]
        assert "-" in host_port, f"api publishes one fixed host port: {port}"
    assert api["deploy"]["replicas"] >= 1
    mount = next(v for v in nginx["volumes"] if "citeline.conf" in v)
    assert mount.split(":")[0] == "./" + str(TEMPLATE.relative_to(ROOT))
    env = environment(nginx, shell={})
    assert env["NGINX_UPSTREAM_SERVERS"] == server_lines(["api:8000"], "resolve")
    # The image's envsubst fills every placeholder (and only names its filter allows).
    template = TEMPLATE.read_text(encoding="utf-8")
    names = placeholders(template)
    assert names <= set(env), f"nginx lacks values for {names - set(env)}"
    assert all(re.search(env["NGINX_ENVSUBST_FILTER"], n) for n in names)
    rendered = render_text(template, env)
    assert "${" not in rendered and "server api:8000 resolve" in rendered
    # The proxy's body limit is the replicas' limit.
    assert env["CITELINE_MAX_BODY_BYTES"] == environment(api, {})["CITELINE_MAX_BODY_BYTES"]
    assert nginx["depends_on"]["api"]["condition"] == "service_healthy"


def test_qdrant_is_a_three_node_cluster(compose: dict[str, Any]) -> None:
    every = services(compose)
    nodes = [every[f"qdrant-{n}"] for n in (1, 2, 3)]
    for node in nodes:
        assert environment(node, {})["QDRANT__CLUSTER__ENABLED"] == "true"
    assert nodes[0]["command"][-2:] == ["--uri", "http://qdrant-1:6335"]
    for n, node in enumerate(nodes[1:], start=2):
        cmd = node["command"]
        assert cmd[cmd.index("--bootstrap") + 1] == "http://qdrant-1:6335"
        assert cmd[cmd.index("--uri") + 1] == f"http://qdrant-{n}:6335"
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    client = re.search(r'"qdrant-client==(\d+\.\d+)\.', pyproject)
    assert client is not None
    for node in nodes:
        assert node["image"].startswith(f"qdrant/qdrant:v{client[1]}."), "server = client"
    qdrant_shell = {"CITELINE_INDEX_BACKEND": "qdrant"}
    for name in ("ingest", "api", "ingest-ray"):
        env = environment(every[name], qdrant_shell)
        assert env["CITELINE_INDEX_BACKEND"] == "qdrant"
        assert env["CITELINE_QDRANT_URL"] == "http://qdrant-1:6333"
        assert env["CITELINE_QDRANT_COLLECTION"]


def test_ray_ingest_runs_on_the_cluster(compose: dict[str, Any]) -> None:
    every = services(compose)
    cmd = every["ingest-ray"]["command"]
    assert "ray://ray-head:10001" in cmd
    assert "--ray-client-server-port=10001" in every["ray-head"]["command"]
    assert "--address=ray-head:6379" in every["ray-worker"]["command"]
    # Ray tasks read the articles on whichever node they run.
    for name in ("ray-head", "ray-worker", "ingest-ray"):
        assert any(v.endswith(":/articles:ro") for v in every[name]["volumes"]), name


def test_llm_profile_feeds_the_api(compose: dict[str, Any]) -> None:
    every = services(compose)
    llm = every["llm"]
    assert "--port" in llm["command"] and "8080" in llm["command"]
    env = environment(every["api"], {"CITELINE_LLM_BASE_URL": "http://llm:8080/v1"})
    assert env["CITELINE_LLM_BASE_URL"] == "http://llm:8080/v1"


def test_the_image_has_what_the_services_run() -> None:
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    include = re.search(r"include = \[([^\]]*)\]", pyproject)
    assert include is not None
    for package in re.findall(r'"(\w+)\*"', include[1]):
        assert re.search(rf"^COPY {package} {package}$", dockerfile, re.M), package
    # ray-head, ray-worker and the Qdrant backend need the scale extra.
    assert '".[scale]"' in dockerfile
    # The templates ship inside the package: no CITELINE_PROMPTS_DIR workaround.
    assert "CITELINE_PROMPTS_DIR" not in dockerfile
