"""Records as Redis hashes of JSON-encoded top-level fields, with a creation-time index per kind
(``Keys.record`` and ``Keys.records``: ``<p>:{<id>}:<kind>`` and ``<p>:<kind>s``).

A hash per record lets the gateway and the worker update different fields without read-modify-write
races; :meth:`RecordStore.write` sets and removes fields in one step, optionally only if a :class:`Guard`
holds (the compare-and-set the state machines need), and never on a record that no longer exists.
The typed stores (catalog/assets.py, catalog/uploads.py) build on it through catalog/schema.py.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from gateway.state.keys import Keys, RecordKind

_ALPHABET = string.ascii_letters + string.digits

# Set and remove fields of an existing record, if the guard holds; returns 1 when applied.
# ARGV: the guarded field ('' = no guard), its member ('' = the whole value), the expected JSON ('' = absent),
# how many fields are set, then name/value pairs, then the names of the fields removed.
_WRITE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] ~= '' then
  local current = redis.call('HGET', KEYS[1], ARGV[1])
  if current and ARGV[2] ~= '' then
    local ok, value = pcall(cjson.decode, current)
    if ok and type(value) == 'table' and value[ARGV[2]] ~= nil then
      current = cjson.encode(value[ARGV[2]])
    else
      current = false
    end
  end
  if ARGV[3] == '' then
    if current then return 0 end
  elseif current ~= ARGV[3] then
    return 0
  end
end
local n = tonumber(ARGV[4])
for i = 5, 4 + 2 * n, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
for i = 5 + 2 * n, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
return 1
"""


def new_id(length: int = 32) -> str:
    """A Mux-style opaque id: base62, ``length`` characters (32 give ~190 random bits)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def encode(fields: Mapping[str, Any]) -> dict[str, str]:
    return {key: _json(value) for key, value in fields.items()}


@dataclass(frozen=True)
class Guard:
    """Write only if ``field`` (with ``member``: that member of the JSON object it holds) equals
    ``expected``; ``expected=None`` means absent. Members are compared as Redis' cjson encodes them, so
    guard on plain strings (a status), not on values whose encodings may differ."""

    field: str
    expected: Any
    member: str | None = None


def decode(raw: Mapping[bytes | str, bytes | str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.decode() if isinstance(key, bytes) else key
        out[name] = json.loads(value)
    return out


class RecordStore:
    def __init__(self, redis: Redis, keys: Keys, kind: RecordKind) -> None:
        self.redis = redis
        self.keys = keys
        self.kind: RecordKind = kind
        self.index = keys.records(kind)
        self._write = redis.register_script(_WRITE)

    def key(self, record_id: str) -> str:
        return self.keys.record(self.kind, record_id)

    async def create(self, record_id: str, fields: Mapping[str, Any], created_at: float) -> bool:
        """Store a new record; False (and nothing changed) when it already exists."""
        key = self.key(record_id)
        if not await self.redis.hsetnx(key, "id", json.dumps(record_id)):
            return False
        await self.redis.hset(key, mapping=encode(fields))
        await self.redis.zadd(self.index, {record_id: created_at})
        return True

    async def get(self, record_id: str) -> dict[str, Any] | None:
        raw = await self.redis.hgetall(self.key(record_id))
        record = decode(raw) if raw else None
        # a record whose creation was interrupted before its fields were written does not exist yet
        return record if record and len(record) > 1 else None

    async def update(self, record_id: str, fields: Mapping[str, Any]) -> None:
        """Set fields unconditionally (tests and repairs; the stores use :meth:`write`)."""
        if fields:
            await self.redis.hset(self.key(record_id), mapping=encode(fields))

    async def write(self, record_id: str, fields: Mapping[str, Any], *, remove: Iterable[str] = (),
                    guard: Guard | None = None) -> bool:
        """Set ``fields`` and remove ``remove`` in one step; False (nothing changed) when the record does not
        exist or ``guard`` does not hold."""
        args: list[str] = ["", "", ""] if guard is None else [
            guard.field, guard.member or "", "" if guard.expected is None else _json(guard.expected)]
        args.append(str(len(fields)))
        for name, value in encode(fields).items():
            args += [name, value]
        args += list(remove)
        return bool(await self._write(keys=[self.key(record_id)], args=args))

    async def delete(self, record_id: str) -> None:
        await self.redis.delete(self.key(record_id))
        await self.redis.zrem(self.index, record_id)

    async def page(self, *, offset: int, limit: int, newest_first: bool = True) -> list[str]:
        """Ids by creation time; an empty list past the end."""
        if newest_first:
            ids = await self.redis.zrevrange(self.index, offset, offset + limit - 1)
        else:
            ids = await self.redis.zrange(self.index, offset, offset + limit - 1)
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]

    async def many(self, ids: list[str]) -> list[dict[str, Any]]:
        records = []
        for record_id in ids:
            record = await self.get(record_id)
            if record is not None:
                records.append(record)
        return records
