"""What can be checked of docker/ without a Docker engine (none runs on these machines): the compose
file parses and has the production shape, every path it and the Dockerfiles reference exists, every
UPGW_ variable names a real setting and loads, and the proxy streams bodies."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from gateway.settings import Settings, load_settings
from tests.conftest import ROOT

DOCKER = ROOT / "docker"
VAR = re.compile(r"\$\{(\w+)(?::([-?][^}]*))?\}")


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DOCKER / "compose.yaml").read_text()))


def dotenv() -> dict[str, str]:
    pairs = (line.partition("=") for line in (DOCKER / ".env.example").read_text().splitlines()
             if line.strip() and not line.startswith("#"))
    return {key: value for key, _, value in pairs}


def substitute(value: str) -> str:
    """Compose's ${VAR:-default} / ${VAR:?error} with docker/.env.example as the .env file."""
    values = dotenv()

    def one(match: re.Match[str]) -> str:
        name, rest = match.group(1), match.group(2) or ""
        if name in values:
            return values[name]
        assert not rest.startswith("?"), f"{name} is required but not in .env.example"
        return rest.removeprefix("-")
    return VAR.sub(one, value)


@dataclass
class Image:
    """What a Dockerfile gives its containers: ENV, CMD and the HEALTHCHECK's command (exec forms)."""
    env: dict[str, str]
    cmd: list[str]
    healthcheck: list[str]


def image(dockerfile: str) -> Image:
    env: dict[str, str] = {}
    cmd: list[str] = []
    healthcheck: list[str] = []
    for line in (DOCKER / dockerfile).read_text().replace("\\\n", " ").splitlines():
        if line.startswith("ENV "):
            for pair in shlex.split(line[4:]):
                key, _, value = pair.partition("=")
                env[key] = value
        elif line.startswith("CMD "):
            cmd = list(json.loads(line[4:]))
        elif line.startswith("HEALTHCHECK "):
            healthcheck = list(json.loads(line.partition(" CMD ")[2]))
    return Image(env, cmd, healthcheck)


def upgw_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for service in compose()["services"].values():
        for key, value in (service.get("environment") or {}).items():
            if key.startswith("UPGW_"):
                env[key] = substitute(str(value))
    for dockerfile in DOCKER.glob("Dockerfile*"):
        env.update((key, value) for key, value in image(dockerfile.name).env.items() if key.startswith("UPGW_"))
    return env


def test_compose_has_the_production_shape() -> None:
    services = compose()["services"]
    assert {"redis", "minio", "gateway", "worker", "proxy"} <= set(services)
    assert "--appendonly" in services["redis"]["command"] and "yes" in services["redis"]["command"]
    assert services["gateway"]["deploy"]["replicas"] >= 2 and services["worker"]["deploy"]["replicas"] >= 1
    for name in ("redis", "minio", "gateway", "proxy"):
        assert "healthcheck" in services[name], name
    assert services["gateway"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "ports" not in services["gateway"]          # replicas are reached through the proxy only
    assert services["proxy"]["ports"] == ["8080:8080"]


def test_every_referenced_path_exists() -> None:
    for name, service in compose()["services"].items():
        if build := service.get("build"):
            context = (DOCKER / build["context"]).resolve()
            assert context.is_dir(), name
            dockerfile = context / build["dockerfile"]
            assert dockerfile.is_file(), name
            for line in dockerfile.read_text().splitlines():
                if line.startswith("COPY "):
                    for source in line.split()[1:-1]:
                        assert (context / source).exists(), f"{dockerfile.name}: {source}"
                if line.startswith("CMD "):
                    module = yaml.safe_load(line[4:])[2]
                    assert (ROOT / module / "__main__.py").is_file(), module
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DOCKER / source).is_file(), f"{name}: {source}"


def _field_path_exists(model: type[BaseModel], path: list[str]) -> bool:
    field = model.model_fields.get(path[0])
    if field is None:
        return False
    if len(path) == 1:
        return True
    annotation = field.annotation
    return isinstance(annotation, type) and issubclass(annotation, BaseModel) and _field_path_exists(
        annotation, path[1:])


def test_every_upgw_variable_is_a_real_setting_and_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    env = upgw_env()
    assert len(env) >= 8
    for key in env:
        path = key.removeprefix("UPGW_").lower().split("__")
        assert _field_path_exists(Settings, path), f"{key} is not a setting"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(ROOT / "config.yaml")
    assert settings.storage.backend == "s3" and settings.redis.url == "redis://redis:6379/0"
    assert settings.storage.s3.endpoint == "http://minio:9000"
    assert settings.storage.s3.public_endpoint == "http://localhost:9000"
    assert settings.auth.tokens[0].id == "prod" and settings.server.host == "0.0.0.0"
    assert settings.master_access.signing_key.get_secret_value() == "change-me-another-long-random"


def test_proxy_streams_bodies_and_fits_500_mib_chunks() -> None:
    conf = (DOCKER / "nginx.conf").read_text()
    assert re.search(r"^\s*proxy_request_buffering off;", conf, re.M)
    limit = re.search(r"^\s*client_max_body_size (\S+);", conf, re.M)
    assert limit is not None
    value = limit.group(1)
    assert value == "0" or (value.endswith("m") and int(value[:-1]) >= 512)
    assert re.search(r"^\s*proxy_next_upstream off;", conf, re.M)   # never replay an upload elsewhere
    assert "server gateway:8080" in conf


def test_readme_says_what_was_not_run_here() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "docker compose -f docker/compose.yaml up" in readme
    assert "not run" in readme.lower() and "Docker engine" in readme
    assert Path(ROOT / "docs" / "scaling.md").is_file()
