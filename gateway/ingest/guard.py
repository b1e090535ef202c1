"""The SSRF guard of imports from a URL: the only way the gateway fetches a URL a client gave it.

Addresses are checked where the connection is made, not by reading the URL: :class:`GuardedResolver`
resolves a name and hands aiohttp only the public addresses, so aiohttp connects only to addresses that
were checked (a name that changes its answer between a check and the connection, DNS rebinding, gains
nothing). aiohttp never asks its resolver about an IP literal (it connects to it as written), so
:func:`check_url` judges literals, with the same rules, before a request is made; it also refuses every
scheme but http and https, and hosts written as numbers in other forms than the dotted quad
(``2130706433``, ``0x7f.1``, ``127.1``), which resolvers read as addresses in more than one way.

:class:`GuardedClient` follows redirects itself (at most ``ingest.max_redirects``), so every hop passes
both checks and the allow-list again; it never uses a proxy from the environment, never decodes a
``Content-Encoding`` (byte ranges count the bytes sent) and keeps no cookies. Every attempt and refusal
is logged with the URL's scheme, host and port, never its credentials, path or query (a presigned URL's
query is a credential).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from gateway.ingest.addresses import AllowList, is_numeric_host, non_public_reason, parse_address
from gateway.ingest.errors import IngestRefused, SourceInvalid, SourceUnreachable
from gateway.settings import IngestSettings

log = logging.getLogger("gateway.ingest")

SCHEMES = frozenset({"http", "https"})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "upload-gateway-ingest/1"


def where(url: URL) -> dict[str, Any]:
    """What a log line may say about a URL: its scheme, host and port (no credentials, path or query)."""
    return {"scheme": url.scheme, "host": url.raw_host, "port": url.port}


def parse_url(url: str | URL) -> URL:
    if isinstance(url, URL):
        return url
    try:
        return URL(url)
    except (ValueError, TypeError) as exc:
        raise IngestRefused("the URL cannot be parsed") from exc


def check_url(url: URL, allow: AllowList) -> None:
    """Refuse, before any connection, what can be judged from the URL alone: a scheme other than http and
    https, no host, an IP literal that is not public (unless listed), a host written as a number in any
    form but the dotted quad. A name passes: :class:`GuardedResolver` judges its addresses."""
    if url.scheme not in SCHEMES:
        raise IngestRefused("only http and https URLs are fetched")
    host = url.raw_host
    if not host:
        raise IngestRefused("the URL has no host")
    address = parse_address(host)
    if address is not None:
        if allow.allows_address(address, url.port):
            return
        reason = non_public_reason(address)
        if reason is not None:
            raise IngestRefused(f"the URL's host is a non-public address ({reason})")
        return
    if is_numeric_host(host):
        raise IngestRefused("the URL's host is a number but not a dotted-quad IPv4 address")


class GuardedResolver(AbstractResolver):
    """Resolves with ``inner`` (aiohttp's ThreadedResolver by default) and keeps only public addresses,
    unless the name itself is listed in the allow-list (with this port or none). Raises
    :class:`IngestRefused` when nothing is left."""

    def __init__(self, allow: AllowList, inner: AbstractResolver | None = None) -> None:
        self.allow = allow
        self._inner = inner
        self._owns_inner = inner is None

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        if self._inner is None:
            self._inner = aiohttp.ThreadedResolver()
        results = await self._inner.resolve(host, port, family)
        if self.allow.allows_name(host, port):
            return results
        kept: list[ResolveResult] = []
        dropped: list[str] = []
        for result in results:
            address = parse_address(result["host"])
            reason = "not an address" if address is None else non_public_reason(address)
            if reason is None:
                kept.append(result)
            else:
                dropped.append(f"{result['host']} ({reason})")
        if dropped:
            log.warning("ingest.addresses_dropped", extra={"host": host, "port": port, "dropped": dropped})
        if not kept:
            raise IngestRefused("the URL's host resolves only to non-public addresses")
        return kept

    async def close(self) -> None:
        if self._inner is not None and self._owns_inner:
            await self._inner.close()
            self._inner = None


class GuardedClient:
    """An HTTP client that fetches only what the guard allows. :meth:`get` follows redirects itself.

    ``resolver`` is the resolver the guard wraps (aiohttp's ThreadedResolver by default); tests give one
    that maps invented names to loopback. ``trace_configs`` are handed to the aiohttp session."""

    def __init__(self, settings: IngestSettings, *, resolver: AbstractResolver | None = None,
                 trace_configs: Sequence[aiohttp.TraceConfig] = ()) -> None:
        self.settings = settings
        self.allow = AllowList(settings.allow_hosts)
        self.resolver = GuardedResolver(self.allow, resolver)
        self._trace_configs = list(trace_configs)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=None, connect=self.settings.connect_timeout,
                                            sock_connect=self.settings.connect_timeout,
                                            sock_read=self.settings.read_timeout)
            # no DNS cache: every connection is resolved (and filtered) afresh
            connector = aiohttp.TCPConnector(resolver=self.resolver, use_dns_cache=False, limit=16)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=timeout, trust_env=False, auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(), trace_configs=self._trace_configs or None,
                headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()   # and its connector (which leaves a resolver it was given open)
            self._session = None
        await self.resolver.close()

    async def __aenter__(self) -> GuardedClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    def check(self, url: str | URL) -> URL:
        """``url`` parsed, or :class:`IngestRefused` (logged) if it may not be fetched at all."""
        parsed = parse_url(url)
        try:
            check_url(parsed, self.allow)
        except IngestRefused as exc:
            log.warning("ingest.refused", extra={**where(parsed), "reason": exc.message})
            raise
        return parsed

    async def get(self, url: str | URL, *, headers: Mapping[str, str] | None = None) -> aiohttp.ClientResponse:
        """The answer to a GET of ``url`` after redirects, its body unread; the caller releases it.

        Raises :class:`IngestRefused` (a URL, a hop or an address the guard refuses, too many redirects),
        :class:`SourceUnreachable` (no connection, no answer within the timeouts) or :class:`SourceInvalid`
        (a redirect without a usable ``Location``)."""
        current = parse_url(url)
        session = self._open()
        for hop in range(self.settings.max_redirects + 1):
            self.check(current)
            log.info("ingest.request", extra={**where(current), "hop": hop, "range": (headers or {}).get("Range")})
            try:
                response = await session.get(current, headers=headers, allow_redirects=False)
            except IngestRefused as exc:
                log.warning("ingest.refused", extra={**where(current), "reason": exc.message})
                raise
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                log.warning("ingest.unreachable", extra={**where(current), "error": exc.__class__.__name__})
                raise SourceUnreachable(f"the source at {current.raw_host} could not be reached "
                                        f"({exc.__class__.__name__})") from exc
            if response.status not in REDIRECTS:
                return response
            location = response.headers.get("Location", "")
            response.release()
            if hop == self.settings.max_redirects:
                break
            try:
                current = current.join(URL(location))   # judged by check() on the next turn
            except ValueError:
                location = ""
            if not location:
                raise SourceInvalid("the source answered a redirect without a usable Location")
            log.info("ingest.redirect", extra={**where(current), "status": response.status, "hop": hop + 1})
        log.warning("ingest.refused", extra={**where(current), "reason": "too many redirects"})
        raise IngestRefused(f"too many redirects (more than {self.settings.max_redirects})")
