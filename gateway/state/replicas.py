"""How many replicas must hold an upload's new offset before the gateway acknowledges it.

Redis replicates asynchronously: a primary that dies right after a commit may take the newest offsets
with it, and the replica promoted by Sentinel answers with an older one. ``WAIT n timeout`` after the
commit, on the same connection, blocks until ``n`` replicas have every write of that connection, so an
offset is only ever acknowledged to a client once a replica holds it (``redis.replica_acks``; by default
one when the primary has replicas, looked up every 10 s). A WAIT that times out answers 503: the client
asks for the offset again (HEAD) and goes on from there, whichever server is primary by then.

A regressed offset is safe anyway, which is why the default is not stricter: storage follows the offset
in Redis, never the other way round (a write first cuts the file back to the Redis offset; S3 parts not
recorded are uploaded again), so a client that resends from a lower offset rewrites those bytes.
tests/integration/test_redis_sentinel.py kills the primary under 20 uploads and checks both.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

REFRESH_S = 10.0


class ReplicaAcks:
    def __init__(self, redis: Redis, wanted: int | None, timeout: float, *, enabled: bool = True) -> None:
        self.redis = redis
        self.wanted = wanted
        self.timeout_ms = max(int(timeout * 1000), 1)
        self.enabled = enabled   # off for a Redis Cluster client (a keyless WAIT has no node to go to)
        self._known = 0
        self._checked = float("-inf")

    async def needed(self) -> int:
        if not self.enabled:
            return 0
        if self.wanted is not None:
            return self.wanted
        if time.monotonic() - self._checked > REFRESH_S:
            self._checked = time.monotonic()
            info = await self.redis.info("replication")
            self._known = 1 if int(info.get("connected_slaves", 0)) > 0 else 0
        return self._known
