"""The SSRF guard against a real source on loopback: what it refuses, that it refuses before any socket is
opened, and that each redirect hop is judged again. The source listens on 127.0.0.1; each refused URL
names its real port, so a guard that let one through would show up in the source's log."""

from __future__ import annotations

import logging
import os
from typing import Any

import pytest

from gateway.ingest.addresses import AllowList
from gateway.ingest.errors import IngestRefused, SourceUnreachable
from gateway.ingest.guard import GuardedClient, GuardedResolver
from gateway.settings import IngestSettings
from tests.ingest.conftest import MapResolver, Source, SourceFile
from tests.servers import free_port

NOTHING_ALLOWED = IngestSettings(read_timeout=10.0, connect_timeout=5.0)


async def fetch(client: GuardedClient, url: str) -> bytes:
    response = await client.get(url)
    try:
        assert response.status == 200, response.status
        return await response.read()
    finally:
        response.release()


@pytest.mark.parametrize(("host", "refusal"), [
    ("127.0.0.1", r"non-public address \(loopback\)"),
    ("[::1]", r"non-public address \(loopback\)"),
    ("[::ffff:127.0.0.1]", r"non-public address \(loopback \(IPv4-mapped 127.0.0.1\)\)"),
    ("[::127.0.0.1]", r"IPv4-compatible 127.0.0.1"),
    ("[64:ff9b::127.0.0.1]", r"NAT64 127.0.0.1"),
    ("[2002:7f00:1::]", r"6to4 127.0.0.1"),
    ("2130706433", "a number but not a dotted-quad"),
    ("0x7f.1", "a number but not a dotted-quad"),
    ("0x7f.0.0.1", "a number but not a dotted-quad"),
    ("127.1", "a number but not a dotted-quad"),
    ("0177.0.0.1", "a number but not a dotted-quad"),
    ("169.254.169.254", r"non-public address \(link-local\)"),
    ("[fe80::a9fe:a9fe%25eth0]", r"non-public address \(link-local\)"),
    ("0.0.0.0", "unspecified"),
    ("10.0.0.5", "private"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("[fd00::1]", "unique-local"),
])
async def test_literal_hosts_are_refused_before_any_resolution_or_connection(
        source: Source, connects: list[list[Any]], host: str, refusal: str) -> None:
    source.files["a"] = SourceFile(os.urandom(1000))
    resolver = MapResolver({})
    async with GuardedClient(NOTHING_ALLOWED, resolver=resolver) as client:
        with pytest.raises(IngestRefused, match=refusal):
            await client.get(f"http://{host}:{source.port}/files/a")
    assert connects == [] and resolver.asked == [] and source.hits == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1:{port}/_GET%20/files/a",
                                 "ftp://127.0.0.1:{port}/files/a", "ws://127.0.0.1:{port}/files/a",
                                 "data:text/plain,hello", "/files/a"])
async def test_only_http_and_https_are_fetched(source: Source, connects: list[list[Any]], url: str) -> None:
    resolver = MapResolver({})
    async with GuardedClient(source.allowed, resolver=resolver) as client:   # even the allowed address
        with pytest.raises(IngestRefused, match="only http and https URLs are fetched"):
            await client.get(url.format(port=source.port))
    assert connects == [] and resolver.asked == [] and source.hits == []


async def test_a_name_that_resolves_to_loopback_is_refused_without_connecting(
        source: Source, connects: list[list[Any]]) -> None:
    source.files["a"] = SourceFile(os.urandom(1000))
    # the real resolver: localhost is answered locally (hosts file), never by DNS
    async with GuardedClient(NOTHING_ALLOWED) as client:
        with pytest.raises(IngestRefused, match="the URL's host resolves only to non-public addresses"):
            await client.get(source.url("/files/a", host="localhost"))
    # an invented public-looking name whose answer is loopback (DNS rebinding's second answer)
    resolver = MapResolver({"public.test": ["127.0.0.1"], "dual.test": ["127.0.0.1", "::1", "10.0.0.1"]})
    async with GuardedClient(NOTHING_ALLOWED, resolver=resolver) as client:
        for name in ("public.test", "dual.test"):
            with pytest.raises(IngestRefused, match="resolves only to non-public addresses"):
                await client.get(source.url("/files/a", host=name))
    assert resolver.asked == ["public.test", "dual.test"]
    assert connects == [] and source.hits == []


async def test_allowing_the_sources_address_allows_nothing_else(source: Source, connects: list[list[Any]]) -> None:
    """127.0.0.1:<port> is listed: that URL is fetched; the same server by another name, another form of the
    address or another port is not."""
    data = os.urandom(5000)
    source.files["a"] = SourceFile(data)
    resolver = MapResolver({"localhost": ["127.0.0.1"], "public.test": ["127.0.0.1"]})
    async with GuardedClient(source.allowed, resolver=resolver) as client:
        assert await fetch(client, source.url("/files/a")) == data
        assert len(connects) == 1 and connects[0][0][:2] == ("127.0.0.1", source.port)   # the spy sees sockets
        for host in ("localhost", "public.test", "[::ffff:127.0.0.1]", "2130706433", "127.1", "[::1]"):
            with pytest.raises(IngestRefused):
                await client.get(source.url("/files/a", host=host))
        with pytest.raises(IngestRefused, match="loopback"):
            await client.get(f"http://127.0.0.1:{source.port + 1}/files/a")
    assert len(connects) == 1 and len(source.hits) == 1


async def test_an_allowed_name_skips_the_filter_for_that_name_and_port_only(
        source: Source, connects: list[list[Any]]) -> None:
    data = os.urandom(5000)
    source.files["a"] = SourceFile(data)
    resolver = MapResolver({"media.internal": ["127.0.0.1"], "other.internal": ["127.0.0.1"]})
    settings = IngestSettings(allow_hosts=[f"Media.Internal:{source.port}"])
    async with GuardedClient(settings, resolver=resolver) as client:
        assert await fetch(client, source.url("/files/a", host="media.internal")) == data
        for url in (source.url("/files/a", host="other.internal"), f"http://media.internal:{source.port + 1}/",
                    source.url("/files/a")):
            with pytest.raises(IngestRefused):
                await client.get(url)
    assert len(connects) == 1 and [hit.path for hit in source.hits] == ["/files/a"]


async def test_the_resolver_hands_aiohttp_only_the_public_addresses() -> None:
    """A name with public and private answers keeps only the public ones (called directly: nothing is
    contacted, and no public address is ever connected to in these tests)."""
    inner = MapResolver({"mixed.test": ["127.0.0.1", "93.184.216.34", "10.1.2.3", "::1", "2606:4700::6810:84e5",
                                        "::ffff:192.168.0.1", "169.254.169.254"]})
    guard = GuardedResolver(AllowList(), inner)
    kept = await guard.resolve("mixed.test", 443)
    assert [r["host"] for r in kept] == ["93.184.216.34", "2606:4700::6810:84e5"]
    allowed = GuardedResolver(AllowList(["mixed.test:443"]), inner)
    assert len(await allowed.resolve("mixed.test", 443)) == 7
    assert len(await allowed.resolve("mixed.test", 80)) == 2


async def test_redirects_are_followed_up_to_five(source: Source) -> None:
    data = os.urandom(10_000)
    source.files["a"] = SourceFile(data)
    async with GuardedClient(source.allowed) as client:
        assert await fetch(client, source.url("/redirect/5/a")) == data
        assert [hit.path for hit in source.hits] == [f"/redirect/{n}/a" for n in (5, 4, 3, 2, 1)] + ["/files/a"]
        source.hits.clear()
        with pytest.raises(IngestRefused, match=r"too many redirects \(more than 5\)"):
            await client.get(source.url("/redirect/6/a"))
    assert [hit.path for hit in source.hits] == [f"/redirect/{n}/a" for n in (6, 5, 4, 3, 2, 1)]


@pytest.mark.parametrize(("location", "refusal"), [
    ("http://localhost:{port}/files/a", "resolves only to non-public addresses"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[::ffff:127.0.0.1]:{port}/files/a", "IPv4-mapped"),
    ("http://2130706433:{port}/files/a", "a number but not a dotted-quad"),
    ("file:///etc/passwd", "only http and https"),
    ("gopher://127.0.0.1:{port}/_x", "only http and https"),
])
async def test_every_redirect_hop_is_judged_again(source: Source, connects: list[list[Any]], location: str,
                                                  refusal: str) -> None:
    source.files["a"] = SourceFile(os.urandom(1000))
    resolver = MapResolver({"localhost": ["127.0.0.1"]})
    async with GuardedClient(source.allowed, resolver=resolver) as client:
        with pytest.raises(IngestRefused, match=refusal):
            await client.get(source.url("/to?location=" + location.format(port=source.port)))
    assert [hit.path for hit in source.hits] == ["/to"]              # the first hop only
    assert [c[0][:2] for c in connects] == [("127.0.0.1", source.port)]   # no second connection


async def test_a_public_looking_name_that_redirects_to_loopback_is_refused(
        source: Source, connects: list[list[Any]]) -> None:
    """public.test is trusted by name (it stands for a public host; here it is the loopback source); its
    redirect to 127.0.0.1 is not followed, since 127.0.0.1 itself is not listed."""
    data = os.urandom(1000)
    source.files["a"] = SourceFile(data)
    resolver = MapResolver({"public.test": ["127.0.0.1"]})
    settings = IngestSettings(allow_hosts=[f"public.test:{source.port}"])
    async with GuardedClient(settings, resolver=resolver) as client:
        assert await fetch(client, source.url("/files/a", host="public.test")) == data
        with pytest.raises(IngestRefused, match="loopback"):
            await client.get(source.url(f"/to?location=http://127.0.0.1:{source.port}/files/a", host="public.test"))
        with pytest.raises(IngestRefused, match="loopback"):
            await client.get(source.url("/to?location=http://127.0.0.1/", host="public.test"))
        # a relative redirect stays on public.test: followed
        assert await fetch(client, source.url("/to?location=/files/a", host="public.test")) == data
    assert [hit.path for hit in source.hits] == ["/files/a", "/to", "/to", "/to", "/files/a"]


async def test_a_source_that_does_not_answer_is_unreachable() -> None:
    closed_port = free_port()   # nothing listens there
    settings = IngestSettings(allow_hosts=[f"127.0.0.1:{closed_port}"], connect_timeout=2.0)
    async with GuardedClient(settings) as client:
        with pytest.raises(SourceUnreachable) as caught:
            await client.get(f"http://127.0.0.1:{closed_port}/")
    assert caught.value.retryable


async def test_attempts_are_logged_by_host_without_credentials(
        source: Source, caplog: pytest.LogCaptureFixture) -> None:
    source.files["a"] = SourceFile(b"x" * 100)
    caplog.set_level(logging.INFO, logger="gateway.ingest")
    async with GuardedClient(source.allowed) as client:
        response = await client.get(f"http://user:s3cret@127.0.0.1:{source.port}/files/a?X-Amz-Signature=abc")
        response.release()
        with pytest.raises(IngestRefused):
            await client.get("http://user:s3cret@169.254.169.254/latest?token=abc")
    events = [(r.getMessage(), getattr(r, "host", None)) for r in caplog.records]
    assert ("ingest.request", "127.0.0.1") in events and ("ingest.refused", "169.254.169.254") in events
    text = " ".join(str(r.__dict__) for r in caplog.records)
    assert "s3cret" not in text and "Signature" not in text and "token" not in text
