"""The fleet's clients: tus in 1-64 MiB chunks, UpChunk-style PUTs, whole-file PUTs, cut and resumed elsewhere.

Each client starts on one gateway and, after any failure (a cut connection, a killed gateway, a 503),
asks another gateway where the upload stands (tus HEAD, or PUT ``bytes */N``) and goes on from there:
any gateway continues any upload. Every answer's status is counted; latencies are kept per kind.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp

from bench.fleet_content import Content, MiB

TUS = {"Tus-Resumable": "1.0.0"}
KINDS = ("tus", "upchunk", "put")


@dataclass
class Stats:
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)      # 5xx other than 503, with what was asked
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    cuts: int = 0
    failovers: int = 0
    reasons: Counter[str] = field(default_factory=Counter)   # why clients moved to another gateway
    acknowledged: int = 0                                     # bytes the gateways said they have
    last_done: float = 0.0


@dataclass
class Job:
    index: int
    kind: str
    content: Content
    chunk: int
    cut_at: int | None
    upload_id: str = ""            # the storage upload's id (tus id, or the direct upload URL's last part)
    direct_id: str = ""            # the Mux direct upload's id
    done: bool = False
    error: str = ""
    cut_planned: bool = False


class Fleet:
    def __init__(self, gateways: list[str], token: str, stats: Stats) -> None:
        self.gateways = gateways
        self.auth = {"Authorization": f"Bearer {token}"}
        self.stats = stats
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, force_close=True),
            # no read timeout: aiohttp starts it while the body is still being sent, and a 64 MiB chunk
            # among 1,000 uploads takes minutes; the gateways bound every request themselves (idle_timeout)
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=None))

    async def close(self) -> None:
        await self.session.close()

    def on(self, url: str, attempt: int, home: int) -> str:
        """``url`` moved to the gateway ``attempt`` places after the job's own."""
        gateway = urlsplit(self.gateways[(home + attempt) % len(self.gateways)])
        return urlsplit(url)._replace(netloc=gateway.netloc).geturl()

    async def request(self, kind: str, method: str, url: str, **kw: object) -> aiohttp.ClientResponse:
        began = time.perf_counter()
        resp = await self.session.request(method, url, allow_redirects=False, **kw)  # type: ignore[arg-type]
        await resp.read()
        self.stats.latency[kind].append(time.perf_counter() - began)
        self.stats.statuses[resp.status] += 1
        if resp.status >= 500 and resp.status != 503:
            self.stats.unexpected.append(f"{method} {url} -> {resp.status}")
        return resp

    async def run(self, job: Job) -> None:
        home = job.index % len(self.gateways)
        attempt = 0
        offset = -1                 # unknown: ask first
        url = ""
        while attempt < 60:
            try:
                if not url:
                    url = await self.create(job, self.gateways[(home + attempt) % len(self.gateways)])
                    offset = 0
                target = self.on(url, attempt, home)
                if offset < 0:
                    offset = await self.where(job, target)
                if offset >= job.content.size:
                    break
                offset = await self.send(job, target, offset)
                if offset >= job.content.size:
                    break
            except (TimeoutError, aiohttp.ClientError, ConnectionAbortedError, OSError, Retry) as exc:
                self.stats.reasons[str(exc) if isinstance(exc, Retry) else type(exc).__name__] += 1
                if os.environ.get("FLEET_DEBUG"):
                    print(f"  job {job.index} {job.kind} {offset}: {exc!r}", flush=True)
                delay = exc.after if isinstance(exc, Retry) else 0.2
                await asyncio.sleep(delay + random.random() * 0.3)
                attempt += 1
                self.stats.failovers += 1
                offset = -1
        else:
            job.error = "gave up after 60 attempts"
            return
        job.done = True
        self.stats.last_done = time.monotonic()

    async def create(self, job: Job, gateway: str) -> str:
        if job.kind == "tus":
            resp = await self.request("create", "POST", gateway + "/files/", headers={
                **TUS, **self.auth, "Upload-Length": str(job.content.size),
                "Upload-Metadata": "filename ZmxlZXQubXA0"})
            check(resp, 201)
            url = resp.headers["Location"]
        else:
            resp = await self.request("create", "POST", gateway + "/video/v1/uploads", headers=self.auth,
                                      json={"cors_origin": "*", "new_asset_settings": {
                                          "playback_policies": ["public"]}})
            check(resp, 201)
            data = (await resp.json())["data"]
            url, job.direct_id = data["url"], data["id"]
        job.upload_id = urlsplit(url).path.rstrip("/").rsplit("/", 1)[1]
        return str(url)

    async def where(self, job: Job, url: str) -> int:
        if job.kind == "tus":
            resp = await self.request("head", "HEAD", url, headers=TUS)
            check(resp, 200)
            return int(resp.headers["Upload-Offset"])
        resp = await self.request("head", "PUT", url, headers={
            "Content-Range": f"bytes */{job.content.size}", "Content-Length": "0"})
        if resp.status in (200, 201):
            return job.content.size
        check(resp, 308)
        ranges = resp.headers.get("Range", "")
        return int(ranges.rsplit("-", 1)[1]) + 1 if ranges else 0

    async def send(self, job: Job, url: str, offset: int) -> int:
        size = job.content.size
        end = min(size, offset + job.chunk)
        cut = job.cut_at if job.cut_at is not None and offset <= job.cut_at < end else None
        if cut is not None:
            job.cut_at = None           # one cut per job
        body = job.content.body(offset, end, cut)
        try:
            return await self.put_range(job, url, offset, end, body)
        except BaseException:
            if cut is not None:
                self.stats.cuts += 1
            raise

    async def put_range(self, job: Job, url: str, offset: int, end: int,
                        body: AsyncIterator[bytes | memoryview]) -> int:
        size = job.content.size
        if job.kind == "tus":
            resp = await self.request("patch", "PATCH", url, data=body, headers={
                **TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream",
                "Content-Length": str(end - offset)})
            check(resp, 204)
            new = int(resp.headers["Upload-Offset"])
        elif job.kind == "put" and offset == 0 and end == size:
            resp = await self.request("put", "PUT", url, data=body, headers={"Content-Length": str(size)})
            check(resp, 200, 201)
            new = size
        else:
            resp = await self.request("put", "PUT", url, data=body, headers={
                "Content-Range": f"bytes {offset}-{end - 1}/{size}", "Content-Length": str(end - offset)})
            check(resp, 200, 201, 308)
            new = size if resp.status != 308 else int(resp.headers["Range"].rsplit("-", 1)[1]) + 1
        self.stats.acknowledged += new - offset
        return new


class Retry(Exception):
    def __init__(self, status: int, after: float) -> None:
        super().__init__(f"status {status}")
        self.after = after


def check(resp: aiohttp.ClientResponse, *ok: int) -> None:
    if resp.status in ok:
        return
    after = float(resp.headers.get("Retry-After", "0") or 0) if resp.status == 503 else 0.5
    raise Retry(resp.status, min(after, 5.0))


def plan(count: int, base: bytes, shared: bytes, max_size: int, cut_share: float, seed: int) -> list[Job]:
    """``count`` jobs: sizes log-uniform from 1 MiB to ``max_size``, kinds in turn, ``cut_share`` cut."""
    rng = random.Random(seed)
    jobs = []
    for index in range(count):
        size = int(MiB * (max_size / MiB) ** rng.random())
        kind = KINDS[index % len(KINDS)]
        chunk = {"tus": rng.choice((1, 4, 16, 64)) * MiB, "upchunk": rng.choice((5, 16, 30)) * MiB,
                 "put": size}[kind]
        cut = rng.randrange(size // 8, size - size // 8) if rng.random() < cut_share else None
        jobs.append(Job(index, kind, Content(base, shared, index, size), chunk, cut, cut_planned=cut is not None))
    return jobs
