"""docker/compose.yaml's services run outside Docker, as far as this machine allows (it has no Docker
engine): redis-server with the compose file's command line in a folder standing for the redis-data
volume, and the gateway and worker images' CMD lines as subprocesses of this Python, with the environment
``docker compose config`` gives them. Only host names and ports change: ``redis:6379`` and
``minio:9000`` become the loopback Redis and SeaweedFS (the S3 stand-in for MinIO, which cannot run
here), the gateway binds 127.0.0.1 and takes its port through the same ``UPGW_SERVER__*`` keys, and the
image's ``/app`` is this checkout. The compose file's own health checks are run against them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import ROOT
from tests.deploy.compose_cli import compose_config
from tests.deploy.test_docker_files import dotenv, image
from tests.servers import S3_ACCESS_KEY, S3_SECRET_KEY, RedisService, S3Service, free_port, wait_for_port

FFMPEG = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]


def in_checkout(argv: list[str]) -> list[str]:
    """An image's exec-form command line here: its ``python`` is this one, its WORKDIR /app this checkout."""
    assert argv[0] == "python", argv
    return [sys.executable, *(arg.replace("/app/", f"{ROOT}/") for arg in argv[1:])]


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout} s")
        time.sleep(0.2)


def aof_bytes(data: Path) -> bytes:
    return b"".join(path.read_bytes() for path in (data / "appendonlydir").glob("*.aof"))


@pytest.fixture(scope="module")
def compose_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisService]:
    """redis-server with the compose file's command; its working directory stands for /data (the redis
    image's WORKDIR, where Redis writes by default). Only ``--port``/``--bind`` are added."""
    command = compose_config()["services"]["redis"]["command"]
    server = shutil.which(command[0])
    assert server, "redis-server is not installed (run scripts/install.sh)"
    data = tmp_path_factory.mktemp("redis-data")
    port = free_port()
    proc = subprocess.Popen([server, *command[1:], "--port", str(port), "--bind", "127.0.0.1"], cwd=data,
                            stdout=(data.parent / "redis.log").open("ab"), stderr=subprocess.STDOUT)
    service = RedisService(proc=proc, workdir=data, port=port)
    wait_for_port(port, proc=proc)
    yield service
    service.stop()


def test_redis_writes_its_append_only_file_into_its_data_folder(compose_redis: RedisService) -> None:
    check = compose_config()["services"]["redis"]["healthcheck"]["test"]
    assert check[0] == "CMD"
    # the check as compose runs it, pointed at this port (redis-cli's options go before its command)
    done = subprocess.run([check[1], "-p", str(compose_redis.port), *check[2:]], capture_output=True, text=True,
                          timeout=10)
    assert done.returncode == 0 and done.stdout.strip() == "PONG", done
    client = redis.Redis(port=compose_redis.port)
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
    client.set("compose-aof-probe", "written")
    wait_until(lambda: b"compose-aof-probe" in aof_bytes(compose_redis.workdir), 5, "the write in the AOF")
    assert (compose_redis.workdir / "appendonlydir").is_dir()


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    subprocess.run([*FFMPEG, "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=2",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "50",
                    "-c:a", "aac", "-shortest", str(path)], check=True, timeout=60)
    return path


class Stack:
    """The gateway and worker services of the compose file, as processes; ``stop`` sends SIGTERM and
    gives each the compose file's ``stop_grace_period``."""

    def __init__(self, redis_port: int, s3: S3Service, logs: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # the compose file's own variables, set as docker/.env would set them for this machine
        self.config = compose_config(PUBLIC_URL=self.url, S3_PUBLIC_URL=s3.endpoint,
                                     MINIO_ROOT_USER=S3_ACCESS_KEY, MINIO_ROOT_PASSWORD=S3_SECRET_KEY)
        self.hosts = {"redis:6379": f"127.0.0.1:{redis_port}", "minio:9000": f"127.0.0.1:{s3.port}"}
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def env(self, service: str, dockerfile: str) -> dict[str, str]:
        env = {"PATH": os.environ["PATH"], "HOME": str(self.logs), **image(dockerfile).env}
        compose_env = dict(self.config["services"][service]["environment"])
        assert compose_env == self.config["x-upgw-env"], service
        for key, value in compose_env.items():
            for host, loopback in self.hosts.items():
                value = value.replace(host, loopback)
            env[key] = value
        if "UPGW_SERVER__HOST" in env:
            assert env["UPGW_SERVER__HOST"] == "0.0.0.0"
            env.update(UPGW_SERVER__HOST="127.0.0.1", UPGW_SERVER__PORT=str(self.port))
        assert env["UPGW_REDIS__URL"] == f"redis://{self.hosts['redis:6379']}/0"
        assert env["UPGW_STORAGE__S3__ENDPOINT"] == f"http://{self.hosts['minio:9000']}"
        return env

    def start(self, service: str, dockerfile: str) -> None:
        assert "ENTRYPOINT" not in (ROOT / "docker" / dockerfile).read_text()   # CMD is the command line
        log = (self.logs / f"{service}.log").open("ab")
        self.procs[service] = subprocess.Popen(in_checkout(image(dockerfile).cmd), cwd=ROOT, stdout=log,
                                               stderr=subprocess.STDOUT, env=self.env(service, dockerfile))

    def healthy(self, argv: list[str], env: dict[str, str] | None = None) -> bool:
        return subprocess.run(argv, capture_output=True, env=env, timeout=15).returncode == 0

    def log(self, service: str) -> str:
        return (self.logs / f"{service}.log").read_text()[-3000:]

    def stop(self) -> dict[str, int | None]:
        codes: dict[str, int | None] = {}
        for service, proc in self.procs.items():
            if proc.poll() is None:
                proc.terminate()
            grace = float(self.config["services"][service]["stop_grace_period"].removesuffix("s"))
            try:
                codes[service] = proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
                codes[service] = None
        return codes


@pytest.fixture
def stack(compose_redis: RedisService, s3_service: S3Service, tmp_path: Path) -> Iterator[Stack]:
    started = Stack(compose_redis.port, s3_service, tmp_path)
    yield started
    started.stop()


def api(stack: Stack, method: str, path: str, body: Any = None) -> Any:
    secret = json.loads(dotenv()["UPGW_AUTH__TOKENS"])[0]["secret"]   # the token docker/.env.example sets
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(stack.url + path, method=method, data=data, headers={
        "Authorization": f"Bearer {secret}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())["data"]


def test_gateway_and_worker_run_with_the_compose_environment(
        stack: Stack, compose_redis: RedisService, small_clip: Path) -> None:
    check = stack.config["services"]["gateway"]["healthcheck"]["test"]
    assert check[0] == "CMD" and "http://127.0.0.1:8080/readyz" in check[-1]
    gateway_check = in_checkout([*check[1:-1], check[-1].replace(":8080/", f":{stack.port}/")])
    assert not stack.healthy(gateway_check)          # nothing listens yet: the check fails

    stack.start("gateway", "Dockerfile")
    wait_until(lambda: stack.healthy(gateway_check), 20, "the gateway's compose health check passing")
    stack.start("worker", "Dockerfile.worker")
    worker_check = in_checkout(image("Dockerfile.worker").healthcheck)
    assert stack.healthy(worker_check, stack.env("worker", "Dockerfile.worker")), stack.log("worker")

    upload = api(stack, "POST", "/video/v1/uploads",
                 {"cors_origin": "*", "new_asset_settings": {"playback_policies": ["public"]}})
    assert upload["url"].startswith(stack.url + "/")   # PUBLIC_URL from the compose variables
    subprocess.run(["curl", "-sS", "--fail", "-T", str(small_clip), upload["url"]], check=True, timeout=60)
    asset: dict[str, Any] = {}

    def ready() -> bool:
        nonlocal asset
        asset_id = api(stack, "GET", f"/video/v1/uploads/{upload['id']}").get("asset_id")
        asset = api(stack, "GET", f"/video/v1/assets/{asset_id}") if asset_id else {}
        return asset.get("status") in {"ready", "errored"}
    try:
        wait_until(ready, 25, "the asset ready")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {asset}\n{stack.log('worker')}") from None
    assert asset["status"] == "ready" and abs(asset["duration"] - 2.0) < 0.2, asset

    # the gateway's state went to the compose Redis, and into its append-only file
    wait_until(lambda: b"upgw:" in aof_bytes(compose_redis.workdir), 5, "the gateway's keys in the AOF")
    lines = [line for line in stack.log("gateway").splitlines() if line.strip()]
    assert lines and all(json.loads(line) for line in lines[-5:])   # UPGW_LOG__FORMAT: json
    assert stack.stop() == {"gateway": 0, "worker": 0}   # each within its stop_grace_period of SIGTERM
