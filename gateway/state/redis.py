"""Upload state in Redis: the record, the committed parts and segments, and expiry.

The offset only moves through :meth:`RedisState.commit`, a Lua compare-and-set that also checks the
caller still holds the upload's lock (a fencing check), so a stale or concurrent writer can never move
it backwards or skip bytes. HEAD reads one hash: O(1) whatever the number of parts.

Every script and MULTI here touches the keys of one upload only (one hash tag, one slot). The expiry
index ``<p>:expiry`` lives in another slot, so it is written in a separate step, in the order that
keeps one rule through a crash between the two: *every record that can expire has an index entry*.
An index entry without a record is harmless (the sweeper finds no record and drops the entry); a record
without one would never expire, and its stored bytes would leak. So the index entry is added before the
record is created and removed after the record is gone. A new upload's expiry lies in the future, so
the sweeper never acts on an entry whose record is still being written.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from redis.asyncio import Redis

from gateway.errors import Conflict, Locked, StateUnavailable
from gateway.models import Commit, ConcatKind, Part, Segment, Upload, UploadState
from gateway.state.errors import maps_redis_errors
from gateway.state.keys import TOMBSTONE_TTL_S, Keys
from gateway.state.replicas import ReplicaAcks

_COMMIT = """
if redis.call('GET', KEYS[4]) ~= ARGV[1] then return {-1, ''} end
local cur = redis.call('HGET', KEYS[1], 'offset')
if not cur then return {-3, ''} end
if tonumber(cur) ~= tonumber(ARGV[2]) then return {-2, cur} end
redis.call('HSET', KEYS[1], 'offset', ARGV[3])
if ARGV[4] ~= '' then redis.call('RPUSH', KEYS[2], ARGV[4]) end
if ARGV[6] == '1' then redis.call('DEL', KEYS[3]) end
if ARGV[5] ~= '' then redis.call('RPUSH', KEYS[3], ARGV[5]) end
for i = 7, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return {0, ARGV[3]}
"""

_SET_IF = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""


def _encode(upload: Upload) -> dict[str, str]:
    fields = {
        "id": upload.id,
        "offset": str(upload.offset),
        "length": "" if upload.length is None else str(upload.length),
        "part_size": str(upload.part_size),
        "created": repr(upload.created_at),
        "expires": "" if upload.expires_at is None else repr(upload.expires_at),
        "metadata": upload.metadata,
        "state": upload.state.value,
        "concat": upload.concat.value,
        "concat_header": upload.concat_header,
        "partials": " ".join(upload.partials),
    }
    fields.update({f"s.{k}": v for k, v in upload.storage.items()})
    fields.update({f"x.{k}": v for k, v in upload.extra.items()})
    return fields


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decode(raw: Mapping[bytes | str, bytes | str]) -> Upload:
    f = {_str(k): _str(v) for k, v in raw.items()}
    return Upload(
        id=f["id"],
        offset=int(f["offset"]),
        length=int(f["length"]) if f.get("length") else None,
        part_size=int(f["part_size"]),
        created_at=float(f["created"]),
        expires_at=float(f["expires"]) if f.get("expires") else None,
        metadata=f.get("metadata", ""),
        state=UploadState(f.get("state", "receiving")),
        concat=ConcatKind(f.get("concat", "")),
        concat_header=f.get("concat_header", ""),
        partials=tuple(f["partials"].split()) if f.get("partials") else (),
        storage={k[2:]: v for k, v in f.items() if k.startswith("s.")},
        extra={k[2:]: v for k, v in f.items() if k.startswith("x.")},
    )


@maps_redis_errors
class RedisState:
    def __init__(self, redis: Redis, keys: Keys, acks: ReplicaAcks | None = None) -> None:
        self.redis = redis
        self.keys = keys
        self.acks = acks
        self._commit = redis.register_script(_COMMIT)
        self._set_if = redis.register_script(_SET_IF)

    async def create(self, upload: Upload) -> None:
        if upload.expires_at is not None:   # the index first: see the module docstring
            await self.redis.zadd(self.keys.expiry, {upload.id: upload.expires_at})
        await self.redis.hset(self.keys.upload(upload.id), mapping=_encode(upload))

    async def get(self, upload_id: str) -> Upload | None:
        raw = await self.redis.hgetall(self.keys.upload(upload_id))
        return _decode(raw) if raw else None

    async def tombstone(self, upload_id: str) -> str | None:
        value = await self.redis.get(self.keys.tombstone(upload_id))
        return _str(value) if value else None

    async def commit(self, upload_id: str, token: str, commit: Commit) -> None:
        """Apply ``commit`` iff the offset is still ``commit.old_offset`` and ``token`` holds the lock."""
        args: list[str | int] = [
            token, commit.old_offset, commit.new_offset,
            "" if commit.part is None else f"{commit.part.number} {commit.part.etag} {commit.part.size}",
            "" if commit.segment is None else f"{commit.segment.offset} {commit.segment.size} {commit.segment.key}",
            "1" if commit.clear_segments else "0",
        ]
        for key, value in (commit.storage or {}).items():
            args += [f"s.{key}", value]
        keys = [self.keys.upload(upload_id), self.keys.parts(upload_id),
                self.keys.segments(upload_id), self.keys.lock(upload_id)]
        replicas = 0 if self.acks is None else await self.acks.needed()
        if replicas == 0:
            code, current = await self._commit(keys=keys, args=args)
        else:   # WAIT on the commit's own connection: see state/replicas.py
            async with self.redis.pipeline(transaction=False) as pipe:
                await self._commit(keys=keys, args=args, client=pipe)
                pipe.execute_command("WAIT", replicas, self.acks.timeout_ms if self.acks else 0)
                (code, current), acked = await pipe.execute()
            if code == 0 and int(acked) < replicas:
                raise StateUnavailable("the new offset did not reach a replica in time; ask for the offset and "
                                       "resume", headers={"Retry-After": "1"})
        if code == -1:
            raise Locked("another request took over this upload")
        if code == -2:
            raise Conflict(f"offset moved to {int(current)} during the write")
        if code == -3:
            raise Conflict("the upload was removed during the write")

    async def update(self, upload_id: str, fields: Mapping[str, str], *,
                     only_if: tuple[str, str] | None = None) -> bool:
        """Set fields on an existing record; with ``only_if=(field, value)`` only when it matches."""
        args: list[str] = list(only_if) if only_if else ["", ""]
        for key, value in fields.items():
            args += [key, value]
        result = await self._set_if(keys=[self.keys.upload(upload_id)], args=args)
        return bool(result == 1)

    async def touch_expiry(self, upload_id: str, expires_at: float | None) -> None:
        if expires_at is None:   # the record first, then its index entry
            await self.update(upload_id, {"expires": ""})
            await self.redis.zrem(self.keys.expiry, upload_id)
        else:
            await self.update(upload_id, {"expires": repr(expires_at)})
            await self.redis.zadd(self.keys.expiry, {upload_id: expires_at})

    async def parts(self, upload_id: str) -> list[Part]:
        raw = await self.redis.lrange(self.keys.parts(upload_id), 0, -1)
        parts = []
        for item in raw:
            number, etag, size = _str(item).split(" ", 2)
            parts.append(Part(int(number), etag, int(size)))
        return parts

    async def segments(self, upload_id: str) -> list[Segment]:
        raw = await self.redis.lrange(self.keys.segments(upload_id), 0, -1)
        segments = []
        for item in raw:
            offset, size, key = _str(item).split(" ", 2)
            segments.append(Segment(key=key, offset=int(offset), size=int(size)))
        return segments

    async def delete(self, upload_id: str, reason: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:   # one slot: the upload's keys
            pipe.delete(*self.keys.all_of(upload_id))
            pipe.set(self.keys.tombstone(upload_id), reason, ex=TOMBSTONE_TTL_S)
            await pipe.execute()
        await self.redis.zrem(self.keys.expiry, upload_id)   # then the index: see the module docstring

    async def expired(self, now: float | None = None, limit: int = 100) -> list[str]:
        now = time.time() if now is None else now
        ids = await self.redis.zrangebyscore(self.keys.expiry, "-inf", now, start=0, num=limit)
        return [_str(i) for i in ids if isinstance(i, bytes | str)]

    async def add_final_waiter(self, partial_id: str, final_id: str) -> None:
        await self.redis.sadd(self.keys.finals(partial_id), final_id)

    async def final_waiters(self, partial_id: str) -> list[str]:
        members = await self.redis.smembers(self.keys.finals(partial_id))
        return sorted(_str(m) for m in members)

    async def ping(self) -> None:
        await self.redis.ping()
