"""Redis failures become one gateway error at the state adapter, as S3 failures do at the storage
adapter: ``StateUnavailable`` (503, ``Retry-After: 1``), whatever Redis call failed."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from redis.exceptions import RedisError

from gateway.errors import StateUnavailable

P = ParamSpec("P")
T = TypeVar("T")
C = TypeVar("C", bound=type)


def unavailable(exc: RedisError) -> StateUnavailable:
    return StateUnavailable("the state store (Redis) is unavailable; retry shortly", headers={"Retry-After": "1"})


def _mapped(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except RedisError as exc:
            raise unavailable(exc) from exc
    return call


def maps_redis_errors(cls: C) -> C:
    """Every public coroutine method of ``cls`` raises StateUnavailable instead of a RedisError."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.iscoroutinefunction(member):
            setattr(cls, name, _mapped(member))
    return cls
