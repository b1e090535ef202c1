"""Session services (real redis-server and SeaweedFS on free loopback ports) and gateway fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.web_runner import BaseRunner
from minio import Minio
from yarl import URL

from gateway.app import SERVICE, create_app
from gateway.service import UploadService
from gateway.settings import Settings, load_settings
from tests.servers import (
    S3_ACCESS_KEY,
    S3_SECRET_KEY,
    RedisClusterService,
    RedisService,
    S3Service,
    free_port,
    start_redis,
    start_redis_cluster,
    start_seaweedfs,
    wait_for_port,
)

ROOT = Path(__file__).resolve().parent.parent
TOKEN_ID, TOKEN_SECRET = "test", "test-secret"
AUTH = {"Authorization": f"Bearer {TOKEN_SECRET}"}
TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture(scope="session")
def redis_service() -> Iterator[RedisService]:
    service = start_redis()
    yield service
    service.stop()


# ``UPGW_TEST_REDIS=cluster``: the gateway and workers keep their state in a 3-primary Redis Cluster (the
# job queue stays on the plain ``redis_service``, as ``jobs.redis_url`` must with a cluster).
REDIS_MODE = os.environ.get("UPGW_TEST_REDIS", "plain")


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterService]:
    cluster = start_redis_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def s3_service() -> Iterator[S3Service]:
    service = start_seaweedfs()
    yield service
    service.stop()


def make_settings(tmp_path: Path, redis: RedisService, backend: str, s3: S3Service | None,
                  **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": 0, "public_url": "http://127.0.0.1:0"},
        "redis": {"url": redis.url, "key_prefix": f"t{uuid.uuid4().hex[:8]}"},
        "storage": {"backend": backend, "filesystem": {"root": str(tmp_path / "storage")},
                    "spool_dir": str(tmp_path)},
        "auth": {"tokens": [{"id": TOKEN_ID, "secret": TOKEN_SECRET}]},
        "uploads": {"max_size": "1GiB", "expiration": "1h", "sweep_interval": "1h", "lock_timeout": "5s"},
        "log": {"level": "WARNING", "format": "text"},
        # short heartbeats so a killed worker's job is picked up again within seconds
        "jobs": {"heartbeat": "5s", "sweep_interval": "1s", "retry_delay": 0.5},
    }
    if s3 is not None:
        data["storage"]["s3"] = {"endpoint": s3.endpoint, "access_key": S3_ACCESS_KEY,
                                 "secret_key": S3_SECRET_KEY, "bucket": "uploads",
                                 "prefix": f"{uuid.uuid4().hex[:8]}/", "region": "us-east-1"}
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    return data


@pytest.fixture(params=["filesystem", "s3"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings_data(tmp_path: Path, redis_service: RedisService, backend: str,
                  request: pytest.FixtureRequest) -> dict[str, Any]:
    s3 = request.getfixturevalue("s3_service") if backend == "s3" else None
    data = make_settings(tmp_path, redis_service, backend, s3)
    if REDIS_MODE == "cluster":
        data["redis"]["url"] = request.getfixturevalue("redis_cluster").url
        data["jobs"]["redis_url"] = redis_service.url
    return data


class _Server(TestServer):
    """Lets tests use the absolute URLs the gateway hands out (Location headers) as they are, and runs
    the app as ``python -m gateway`` does: a client that hangs up does not cancel its handler
    (aiohttp's test server cancels by default), so what a handler does with a broken body is tested."""

    def make_url(self, path: Any) -> URL:
        url = URL(path)
        return url if url.absolute else super().make_url(path)

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        kwargs["handler_cancellation"] = False
        return await super()._make_runner(**kwargs)


@pytest.fixture
async def client(settings_data: dict[str, Any]) -> AsyncIterator[TestClient[Any, Any]]:
    """The gateway in-process behind aiohttp's test server (public_url fixed up to its real port)."""
    port = free_port()
    settings_data["server"].update(port=port, public_url=f"http://127.0.0.1:{port}")
    app = create_app(Settings(**settings_data))
    async with TestClient(_Server(app, host="127.0.0.1", port=port)) as test_client:
        yield test_client


@pytest.fixture
async def client_factory(settings_data: dict[str, Any]) -> AsyncIterator[Any]:
    """Like ``client``, with settings overridden per section: ``await client_factory(uploads={...})``."""
    started: list[TestClient[Any, Any]] = []

    async def start(**overrides: dict[str, Any]) -> TestClient[Any, Any]:
        port = free_port()
        data = {**settings_data, "server": {**settings_data["server"], "port": port,
                                            "public_url": f"http://127.0.0.1:{port}"}}
        for section, values in overrides.items():
            data[section] = {**data.get(section, {}), **values}
        test_client: TestClient[Any, Any] = TestClient(_Server(create_app(Settings(**data)), host="127.0.0.1",
                                                               port=port))
        await test_client.start_server()
        started.append(test_client)
        return test_client

    yield start
    for test_client in started:
        await test_client.close()


def service_of(client: TestClient[Any, Any]) -> UploadService:
    app = client.app
    assert app is not None
    service = app[SERVICE]
    assert isinstance(service, UploadService)
    return service


class GatewayProcess:
    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.config, self.port, self.log = config, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> GatewayProcess:
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway", "--config", str(self.config)],
                                     cwd=ROOT, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        wait_for_port(self.port, proc=self.proc)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if urllib.request.urlopen(self.url + "/healthz", timeout=2).status == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gateway not healthy: " + self.log.read_text()[-2000:])

    def stop(self, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill() if kill else self.proc.terminate()
            self.proc.wait(15)


@pytest.fixture
def gateway_factory(settings_data: dict[str, Any], tmp_path: Path) -> Iterator[Any]:
    """Start real ``python -m gateway`` processes sharing one Redis and one storage."""
    started: list[GatewayProcess] = []

    def start(**overrides: Any) -> GatewayProcess:
        port = free_port()
        data = {**settings_data, "server": {"host": "127.0.0.1", "port": port,
                                            "public_url": f"http://127.0.0.1:{port}"}}
        for section, values in overrides.items():
            data[section] = {**data.get(section, {}), **values}
        config = tmp_path / f"gateway-{port}.yaml"
        config.write_text(yaml.safe_dump(data))
        gateway = GatewayProcess(config, port, tmp_path / f"gateway-{port}.log").start()
        started.append(gateway)
        # workers started later hand out URLs (master downloads) on this gateway
        settings_data["server"] = {**settings_data["server"], "public_url": gateway.url}
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


class WorkerProcess:
    def __init__(self, config: Path, log: Path) -> None:
        self.config, self.log = config, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        self.proc = subprocess.Popen([sys.executable, "-m", "workers", "--config", str(self.config)],
                                     cwd=ROOT, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        return self

    def stop(self, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill() if kill else self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:   # the worker bounds its own shutdown at 12 s: say so
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError("python -m workers did not exit within 20 s of SIGTERM: "
                                     + self.log.read_text()[-3000:]) from None


@pytest.fixture
def worker_factory(settings_data: dict[str, Any], tmp_path: Path) -> Iterator[Any]:
    """Start real ``python -m workers`` processes on the same Redis and storage as the gateways."""
    started: list[WorkerProcess] = []

    def start(**overrides: Any) -> WorkerProcess:
        data = dict(settings_data)
        for section, values in overrides.items():
            data[section] = {**data.get(section, {}), **values}
        index = len(started)
        config = tmp_path / f"worker-{index}.yaml"
        config.write_text(yaml.safe_dump(data))
        worker = WorkerProcess(config, tmp_path / f"worker-{index}.log").start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def minio_client(s3_service: S3Service) -> Minio:
    return Minio(s3_service.endpoint.split("//")[1], access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY,
                 secure=False, region="us-east-1")


def settings_from(data: dict[str, Any]) -> Settings:
    return load_settings(None, **data)


os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")


def state_redis(settings: dict[str, Any]) -> Any:
    """A synchronous client on the Redis holding the gateway's state (a cluster client under
    ``UPGW_TEST_REDIS=cluster``), for tests that look at keys directly."""
    import redis as redis_sync
    from redis.cluster import RedisCluster

    parsed = Settings(**settings).redis
    if parsed.is_cluster:
        return RedisCluster.from_url(parsed.plain_url)
    return redis_sync.Redis.from_url(parsed.plain_url)


def queue_redis(settings: dict[str, Any]) -> Any:
    """A synchronous client on the job queue's Redis (``jobs.redis_url``, else ``redis.url``)."""
    import redis as redis_sync

    return redis_sync.Redis.from_url(Settings(**settings).queue_redis_url)
