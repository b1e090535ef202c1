"""Every Redis key the gateway uses, in one place.

All keys of one upload share the hash tag ``{<id>}`` so they live in one Redis Cluster slot and the
Lua scripts that touch several of them stay cluster-safe.

    <p>:{<id>}:u        hash    the upload record (offset, length, metadata, state, ...)
    <p>:{<id>}:parts    list    committed S3 parts, "number etag size"
    <p>:{<id>}:segs     list    durable segments of the unfinished part, "offset size key"
    <p>:{<id>}:lock     string  the writer's lock token (PX ttl, refreshed while streaming)
    <p>:{<id>}:release  string  set by a newer request asking the lock holder to stop
    <p>:{<id>}:finals   set     final uploads waiting for this partial (concatenation-unfinished)
    <p>:{<id>}:tomb     string  "expired" / "terminated", kept a while so the URL answers 410
    <p>:expiry          zset    upload id -> expiry time (unix seconds), for the sweeper
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "upgw"

    def upload(self, upload_id: str) -> str:
        return f"{self.prefix}:{{{upload_id}}}:u"

    def parts(self, upload_id: str) -> str:
        return f"{self.prefix}:{{{upload_id}}}:parts"

    def segments(self, upload_id: str) -> str:
        return f"{self.prefix}:{{{upload_id}}}:segs"

    def lock(self, upload_id: str) -> str:
        return f"{self.prefix}:{{{upload_id}}}:lock"

    def release(self, upload_id: str) -> str:
        return f"{self.prefix}:{{{upload_id}}}:release"

    def finals(self, upload_id: str) -> str:
        return f"{self.prefix}:{{{upload_id}}}:finals"

    def tombstone(self, upload_id: str) -> str:
        return f"{self.prefix}:{{{upload_id}}}:tomb"

    def all_of(self, upload_id: str) -> list[str]:
        return [self.upload(upload_id), self.parts(upload_id), self.segments(upload_id),
                self.release(upload_id), self.finals(upload_id)]

    @property
    def expiry(self) -> str:
        return f"{self.prefix}:expiry"


LOCK_TTL_MS = 10_000          # a lock not refreshed for this long is free
LOCK_REFRESH_S = 0.5          # holders refresh (and look for release requests) this often
TOMBSTONE_TTL_S = 7 * 86400   # how long an expired/terminated id keeps answering 410
