"""Prometheus metrics at ``GET /metrics``: what tusd exposes (requests, bytes received, uploads created,
finished and terminated) plus request and upload latencies, job latencies and queue depth, and Redis
and storage errors.

Per-process counters live in a registry per application; job latencies are recorded by the workers
in Redis (``JobTimings``) so any gateway reports them for the whole fleet.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from redis.asyncio import Redis

from gateway.models import Upload
from gateway.state.keys import Keys

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
JOB_BUCKETS = (1.0, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
UPLOAD_BUCKETS = (1.0, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)


class JobTimings:
    """Job durations as a histogram in one Redis hash (``<p>:metrics:jobs``), shared by all workers."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.key = keys.job_timings

    async def observe(self, outcome: str, seconds: float) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for bound in JOB_BUCKETS:
                if seconds <= bound:
                    pipe.hincrby(self.key, f"{outcome}|{bound}", 1)
            pipe.hincrby(self.key, f"{outcome}|+Inf", 1)
            pipe.hincrbyfloat(self.key, f"{outcome}|sum", seconds)
            await pipe.execute()

    async def read(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for raw_field, raw_value in (await self.redis.hgetall(self.key)).items():
            outcome, _, bucket = raw_field.decode().partition("|")
            out.setdefault(outcome, {})[bucket] = float(raw_value)
        return out


class _Snapshot(Collector):
    """Values read from Redis just before a scrape (queue depth, job latencies)."""

    def __init__(self) -> None:
        self.depth: dict[str, float] = {}
        self.jobs: dict[str, dict[str, float]] = {}

    def collect(self) -> Iterable[Any]:
        depth = GaugeMetricFamily("upgw_queue_jobs", "Jobs in the asset queue by state", labels=["state"])
        for state, value in self.depth.items():
            depth.add_metric([state], value)
        yield depth
        jobs = HistogramMetricFamily("upgw_job_duration_seconds", "Asset job run time (all workers)",
                                     labels=["outcome"])
        for outcome, buckets in self.jobs.items():
            ordered = [(str(b), buckets.get(str(b), 0.0)) for b in JOB_BUCKETS]
            ordered.append(("+Inf", buckets.get("+Inf", 0.0)))
            jobs.add_metric([outcome], ordered, buckets.get("sum", 0.0))
        yield jobs

    def describe(self) -> Iterator[Any]:
        return iter(())


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("upgw_requests", "HTTP requests by method and status", ["method", "status"],
                                registry=r)
        self.request_seconds = Histogram("upgw_request_duration_seconds", "HTTP request latency",
                                         ["method"], buckets=LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("upgw_requests_in_flight", "Requests being handled", registry=r)
        self.bytes_received = Counter("upgw_bytes_received", "Upload bytes durably stored", registry=r)
        self.created = Counter("upgw_uploads_created", "Uploads created", registry=r)
        self.finished = Counter("upgw_uploads_finished", "Uploads whose last byte arrived", registry=r)
        self.terminated = Counter("upgw_uploads_terminated", "Uploads removed, by reason", ["reason"],
                                  registry=r)
        self.upload_seconds = Histogram("upgw_upload_duration_seconds", "Time from creation to last byte",
                                        buckets=UPLOAD_BUCKETS, registry=r)
        self.errors = Counter("upgw_backend_errors", "Errors talking to a backend", ["backend"], registry=r)
        self.snapshot = _Snapshot()
        r.register(self.snapshot)

    async def on_created(self, upload: Upload) -> None:
        self.created.inc()

    async def on_finished(self, upload: Upload) -> None:
        self.finished.inc()
        self.upload_seconds.observe(max(time.time() - upload.created_at, 0))

    async def on_terminated(self, upload: Upload, reason: str) -> None:
        self.terminated.labels(reason).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
