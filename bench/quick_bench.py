"""Side-by-side tus upload throughput on this machine, one file, one run.

    .venv/bin/python bench/quick_bench.py --size 1GiB

Cells: this gateway (filesystem and s3 on SeaweedFS), @tus/server + file-store (npm), tuspyserver (PyPI,
in its own venv under bench/.venv-peers), a bare aiohttp
handler writing the body to disk with fsync (ceiling), and the minio client's own multipart put into
the same SeaweedFS (S3 ceiling). Clients: tus-js-client in Node (one PATCH, 8 MiB chunks) and tuspy.
Prints MiB/s and the server's peak RSS (VmHWM). Figures on a 2-core VM swing by +-30%.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import S3_ACCESS_KEY, S3_SECRET_KEY, free_port, start_redis, start_seaweedfs, wait_for_port  # noqa: E402

HERE = Path(__file__).resolve().parent
JS = ROOT / "tests" / "js"
SECRET = "bench-secret"
MiB = 1024 * 1024


def peak_rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and of the children it has reaped (ffmpeg runs, say)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def start(args: list[str], port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc=proc, timeout=30)
    time.sleep(0.3)
    return proc


def gateway(tmp: Path, redis_url: str, backend: str, s3_endpoint: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    config = tmp / f"gw-{backend}.json"
    config.write_text(json.dumps({
        "server": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        "redis": {"url": redis_url, "key_prefix": f"bench{port}"},
        "storage": {"backend": backend, "filesystem": {"root": str(tmp / "gw-files")}, "spool_dir": str(tmp),
                    "s3": {"endpoint": s3_endpoint, "access_key": S3_ACCESS_KEY, "secret_key": S3_SECRET_KEY,
                           "bucket": "bench", "region": "us-east-1"}},
        "auth": {"tokens": [{"id": "bench", "secret": SECRET}]},
        "log": {"level": "WARNING"},
    }))
    return start([sys.executable, "-m", "gateway", "--config", str(config)], port), f"http://127.0.0.1:{port}/files/"


def tus_node(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    script = HERE / "peers" / "tus_node_server.mjs"
    proc = start(["node", str(script), str(port), str(tmp / "node-files")], port,
                 env={"NODE_PATH": str(HERE / "node_modules")})
    return proc, f"http://127.0.0.1:{port}/files/"


PEERS_VENV = HERE / ".venv-peers"


def tuspy_server(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    """tuspyserver (PyPI, FastAPI + uvicorn) in a venv of its own, so it never touches ours."""
    if not (PEERS_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
        subprocess.run([str(PEERS_VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                        "tuspyserver==4.4.3", "uvicorn==0.54.0"], check=True)
    port = free_port()
    (tmp / "tuspyserver-files").mkdir(exist_ok=True)
    proc = start([str(PEERS_VENV / "bin" / "python"), str(HERE / "peers" / "tuspy_server.py"), str(port),
                  str(tmp / "tuspyserver-files")], port)
    return proc, f"http://127.0.0.1:{port}/files/"


def bare_disk(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = start([sys.executable, str(HERE / "peers" / "bare_disk.py"), str(port), str(tmp / "bare.bin")], port)
    return proc, f"http://127.0.0.1:{port}/"


def run_js(endpoint: str, file: Path, chunk: int | None, protocol: str = "tus-v1") -> float:
    options: dict[str, Any] = {"endpoint": endpoint, "file": str(file), "protocol": protocol,
                               "headers": {"Authorization": f"Bearer {SECRET}"}}
    if chunk:
        options["chunkSize"] = chunk
    started = time.perf_counter()
    subprocess.run(["node", str(JS / "tus_upload.mjs"), json.dumps(options)], check=True, capture_output=True,
                   cwd=JS, timeout=1800)
    return time.perf_counter() - started


def run_tuspy(endpoint: str, file: Path) -> float:
    from tusclient import client

    started = time.perf_counter()
    client.TusClient(endpoint, headers={"Authorization": f"Bearer {SECRET}"}).uploader(str(file)).upload()
    return time.perf_counter() - started


def run_curl_put(url: str, file: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["curl", "-sf", "-T", str(file), url, "-o", "/dev/null"], check=True, timeout=1800)
    return time.perf_counter() - started


def run_minio(endpoint: str, file: Path) -> float:
    from minio import Minio

    client = Minio(endpoint.split("//")[1], access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False,
                   region="us-east-1")
    if not client.bucket_exists("ceiling"):
        client.make_bucket("ceiling")
    started = time.perf_counter()
    client.fput_object("ceiling", "file", str(file), part_size=8 * MiB)
    return time.perf_counter() - started


def main() -> None:
    from gateway.core.units import parse_size

    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="1GiB")
    args = parser.parse_args()
    size = parse_size(args.size)
    if not (HERE / "node_modules" / "@tus" / "server").exists():
        subprocess.run(["npm", "install", "--prefix", str(HERE), "--no-audit", "--no-fund", "--loglevel=error"],
                       check=True)
    tmp = Path(tempfile.mkdtemp(prefix="upgw-bench-"))
    file = tmp / "payload.bin"
    with file.open("wb") as f:
        block = os.urandom(8 * MiB)
        for i in range(0, size, len(block)):
            f.write(block[: min(len(block), size - i)])
    redis, s3 = start_redis(), start_seaweedfs()
    rows: list[tuple[str, str, float, float]] = []
    try:
        servers = {
            "gateway (filesystem)": lambda: gateway(tmp, redis.url, "filesystem", s3.endpoint),
            "gateway (s3 on SeaweedFS)": lambda: gateway(tmp, redis.url, "s3", s3.endpoint),
            "@tus/server + file-store": lambda: tus_node(tmp),
            "tuspyserver 4.4.3 (FastAPI/uvicorn)": lambda: tuspy_server(tmp),
        }
        for name, factory in servers.items():
            for client_name, run in (("tus-js-client, one PATCH", lambda e: run_js(e, file, None)),
                                     ("tus-js-client, 8 MiB chunks", lambda e: run_js(e, file, 8 * MiB)),
                                     ("tuspy, one PATCH", lambda e: run_tuspy(e, file))):
                proc, endpoint = factory()
                try:
                    seconds = run(endpoint)
                    rows.append((name, client_name, size / MiB / seconds, peak_rss_mib(proc.pid)))
                except Exception as exc:  # a failing cell is reported, the rest still runs
                    rows.append((name, f"{client_name} FAILED: {exc.__class__.__name__}", 0.0, 0.0))
                finally:
                    proc.terminate()
                    proc.wait(30)
        proc, url = bare_disk(tmp)
        rows.append(("ceiling: bare aiohttp -> disk + fsync", "curl -T", size / MiB / run_curl_put(url, file),
                     peak_rss_mib(proc.pid)))
        proc.terminate()
        rate = size / MiB / run_minio(s3.endpoint, file)
        rows.append(("ceiling: minio fput_object 8 MiB parts", "minio client", rate, float("nan")))
    finally:
        redis.stop()
        s3.stop()
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
    print(f"\n{size / MiB:.0f} MiB file\n\n| server | client | MiB/s | server peak RSS MiB |\n|---|---|---:|---:|")
    for name, client_name, rate, rss in rows:
        print(f"| {name} | {client_name} | {rate:.0f} | {rss:.0f} |")
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / f"quick_bench_{int(time.time())}.json").write_text(json.dumps(rows))


if __name__ == "__main__":
    main()
