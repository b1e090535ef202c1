"""Compose v2's own reading of docker/compose.yaml: ``docker compose config``, which needs no Docker engine.

``scripts/install.sh --test`` installs Compose v2 (Debian's docker-compose 2.x package, a Docker CLI
plugin that also runs on its own as ``docker-compose``); see docs/decisions.md 71.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.deploy.test_docker_files import DOCKER

COMPOSE_FILE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"


def compose_command() -> list[str]:
    """``docker compose`` when the Docker CLI has the plugin, else the plugin on its own; Compose v2 only
    (Debian 12's docker-compose 1.29 is another program with another reading of the file)."""
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        done = subprocess.run([*command, "version", "--short"], capture_output=True, text=True, timeout=30)
        if done.returncode == 0 and re.match(r"v?2\.", done.stdout.strip()):
            return command
    raise RuntimeError("Compose v2 is not installed: run scripts/install.sh --test")


def run_config(env_file: Path = ENV_EXAMPLE, variables: Mapping[str, str] | None = None
               ) -> subprocess.CompletedProcess[str]:
    """``docker compose -f docker/compose.yaml --env-file ENV_FILE config --format json``, with only
    ``variables`` (the file's own ``${...}`` names, as a shell would set them) on top of the env file:
    nothing of this process's environment leaks into the interpolation."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **(variables or {})}
    if "DOCKER_CONFIG" in os.environ:   # where the Docker CLI looks for its plugins
        env["DOCKER_CONFIG"] = os.environ["DOCKER_CONFIG"]
    return subprocess.run([*compose_command(), "-f", str(COMPOSE_FILE), "--env-file", str(env_file), "config",
                           "--format", "json"], capture_output=True, text=True, env=env, timeout=60)


def compose_config(**variables: str) -> dict[str, Any]:
    """The normalized compose file: every ``${...}`` resolved, the ``x-upgw-env`` anchor expanded."""
    done = run_config(variables=variables)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))
