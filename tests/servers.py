"""Start real services on free loopback ports: redis-server and SeaweedFS (``weed mini``) as the S3 stand-in.

Used by the pytest fixtures in ``conftest.py`` and by the ``bench/`` scripts.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

S3_ACCESS_KEY = "testkey"
S3_SECRET_KEY = "testsecret"


def free_port(also_free: tuple[int, ...] = ()) -> int:
    """A free loopback port; ``also_free`` offsets (e.g. +10000 for weed's gRPC ports) must be free too."""
    for _ in range(200):
        with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + max(also_free, default=0) > 65000:
            continue
        if all(_is_free(port + off) for off in also_free):
            return port
    raise RuntimeError("no free port")


def _is_free(port: int) -> bool:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for_port(port: int, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with closing(socket.socket()) as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def _which(name: str) -> str:
    venv_bin = Path(sys.executable).parent / name
    found = str(venv_bin) if venv_bin.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed (run scripts/install.sh)")
    return found


@dataclass
class Service:
    proc: subprocess.Popen[bytes]
    workdir: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass
class RedisService(Service):
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def start_redis() -> RedisService:
    workdir = Path(tempfile.mkdtemp(prefix="upgw-redis-"))
    port = free_port()
    proc = subprocess.Popen(
        [_which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir), "--logfile", str(workdir / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, proc=proc)
    return RedisService(proc=proc, workdir=workdir, port=port)


@dataclass
class RedisClusterService:
    """A Redis Cluster of ``redis-server`` processes (primaries only, slots split evenly by
    ``redis-cli --cluster create``), each in cluster mode on its own free port."""

    nodes: list[RedisService]

    @property
    def url(self) -> str:
        """The gateway's URL for it: any node is a seed; the client learns the others."""
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    def cli(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run([_which("redis-cli"), *args], capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0 or "[ERR]" in done.stdout:
            raise RuntimeError(f"redis-cli {' '.join(args)} failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
        return done.stdout

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def start_redis_cluster(primaries: int = 3) -> RedisClusterService:
    nodes: list[RedisService] = []
    for _ in range(primaries):
        workdir = Path(tempfile.mkdtemp(prefix="upgw-redis-cluster-"))
        port = free_port(also_free=(10000,))   # the cluster bus listens on port + 10000
        proc = subprocess.Popen(
            [_which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(workdir), "--logfile", str(workdir / "redis.log"),
             "--cluster-enabled", "yes", "--cluster-config-file", str(workdir / "nodes.conf"),
             "--cluster-node-timeout", "2000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(port, proc=proc)
        nodes.append(RedisService(proc=proc, workdir=workdir, port=port))
    cluster = RedisClusterService(nodes)
    try:
        cluster.cli("--cluster", "create", *(f"127.0.0.1:{p}" for p in cluster.ports), "--cluster-replicas", "0",
                    "--cluster-yes")
        deadline = time.monotonic() + 30
        while "cluster_state:ok" not in cluster.cli("-p", str(cluster.ports[0]), "cluster", "info"):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")
            time.sleep(0.1)
    except BaseException:
        cluster.stop()
        raise
    return cluster


@dataclass
class RedisSentinelService:
    """One primary, one replica and three sentinels watching them (``master_name``), each a
    ``redis-server`` process on its own free port; a sentinel quorum of 2, a primary down after 1 s."""

    primary: RedisService
    replica: RedisService
    sentinels: list[RedisService]
    master_name: str = "upgw"

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{self.master_name}"

    def current_primary_port(self) -> int:
        done = subprocess.run([_which("redis-cli"), "-p", str(self.sentinels[0].port), "sentinel",
                               "get-master-addr-by-name", self.master_name], capture_output=True, text=True,
                              timeout=10)
        return int(done.stdout.split()[1])

    def stop(self) -> None:
        for service in [*self.sentinels, self.replica, self.primary]:
            service.stop()


def _redis_process(*args: str) -> RedisService:
    workdir = Path(tempfile.mkdtemp(prefix="upgw-redis-"))
    port = free_port()
    proc = subprocess.Popen(
        [_which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--logfile", str(workdir / "redis.log"), *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc=proc)
    return RedisService(proc=proc, workdir=workdir, port=port)


def start_redis_sentinel(master_name: str = "upgw") -> RedisSentinelService:
    primary = _redis_process()
    replica = _redis_process("--replicaof", "127.0.0.1", str(primary.port))
    sentinels: list[RedisService] = []
    for _ in range(3):
        workdir = Path(tempfile.mkdtemp(prefix="upgw-sentinel-"))
        port = free_port()
        config = workdir / "sentinel.conf"
        config.write_text(f"port {port}\nbind 127.0.0.1\ndir {workdir}\nlogfile {workdir / 'sentinel.log'}\n"
                          f"sentinel monitor {master_name} 127.0.0.1 {primary.port} 2\n"
                          f"sentinel down-after-milliseconds {master_name} 1000\n"
                          f"sentinel failover-timeout {master_name} 5000\n"
                          f"sentinel parallel-syncs {master_name} 1\n")
        proc = subprocess.Popen([_which("redis-server"), str(config), "--sentinel"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(port, proc=proc)
        sentinels.append(RedisService(proc=proc, workdir=workdir, port=port))
    service = RedisSentinelService(primary, replica, sentinels, master_name)
    deadline = time.monotonic() + 30
    while True:   # until the replica is in sync and every sentinel knows the others
        info = subprocess.run([_which("redis-cli"), "-p", str(primary.port), "info", "replication"],
                              capture_output=True, text=True, timeout=10).stdout
        known = subprocess.run([_which("redis-cli"), "-p", str(sentinels[0].port), "sentinel", "master",
                                master_name], capture_output=True, text=True, timeout=10).stdout.split()
        peers = int(known[known.index("num-other-sentinels") + 1]) if "num-other-sentinels" in known else 0
        if "connected_slaves:1" in info and "state=online" in info and peers == 2:
            return service
        if time.monotonic() > deadline:
            service.stop()
            raise RuntimeError("the sentinels and the replica did not come up")
        time.sleep(0.2)


@dataclass
class S3Service(Service):
    port: int
    args: list[str] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def halt(self) -> None:
        """Stop the server but keep its data (``resume`` starts it again on the same ports)."""
        self.proc.terminate()
        self.proc.wait(15)

    def resume(self) -> None:
        self.proc = subprocess.Popen(self.args, cwd=self.workdir, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for_port(self.port, timeout=30, proc=self.proc)
        _wait_s3_ready(self.endpoint)


def start_seaweedfs(extra_args: tuple[str, ...] = (), env: dict[str, str] | None = None) -> S3Service:
    """``weed mini`` with S3 on a free port; every other port it opens is free too (gRPC = port + 10000).
    ``extra_args`` go after ``mini``'s own (the fleet bench bounds its memory with them)."""
    workdir = Path(tempfile.mkdtemp(prefix="upgw-weed-"))
    (workdir / "data").mkdir()
    (workdir / "log").mkdir()
    config = workdir / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "admin",
        "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}))
    ports = {name: free_port(also_free=(10000,)) for name in ("master", "volume", "filer", "s3")}
    admin = free_port()
    args = [
        _which("weed"), f"-logdir={workdir / 'log'}", "mini", f"-dir={workdir / 'data'}",
        "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
        f"-filer.port={ports['filer']}", f"-s3.port={ports['s3']}", f"-s3.config={config}",
        "-webdav=false", "-admin.ui=false", f"-admin.port={admin}", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-s3.localSocket={workdir / 's3.sock'}", f"-filer.localSocket={workdir / 'filer.sock'}",
        *extra_args,
    ]
    proc = subprocess.Popen(args, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env_with(**env) if env else None)
    service = S3Service(proc=proc, workdir=workdir, port=ports["s3"], args=args)
    try:
        wait_for_port(ports["s3"], timeout=30, proc=proc)
        _wait_s3_ready(service.endpoint)
    except Exception:
        service.stop()
        raise
    return service


def _wait_s3_ready(endpoint: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(endpoint + "/", timeout=2)
            return
        except urllib.error.HTTPError:
            return  # 403 without credentials: the S3 API answers
        except OSError:
            time.sleep(0.1)
    raise TimeoutError("SeaweedFS S3 API did not answer")


def env_with(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env
