"""Which addresses a fetch may reach, and the operator's allow-list. Pure functions, no I/O.

:func:`non_public_reason` is the address filter: an address is public only when the stdlib's
:mod:`ipaddress` calls it globally reachable *and* it is none of loopback, private, link-local,
shared (CGNAT, ``100.64.0.0/10``), multicast, reserved, unspecified, unique-local (``fc00::/7``) or
site-local; an IPv6 address that carries an IPv4 one (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible
``::a.b.c.d``, IPv4-translated ``::ffff:0:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``, Teredo)
is judged by the IPv4 address inside it (for 6to4 and Teredo, by both).

:class:`AllowList` is ``ingest.allow_hosts``: each entry a name or an address, optionally with a port.
A name matches only a URL naming it (case-insensitive, a trailing dot ignored); an address only a URL
whose host is that address, written as an IP literal. Neither widens to anything else: allowing
``10.0.0.5`` allows neither ``localhost`` nor ``10.0.0.6``, nor a name that resolves to ``10.0.0.5``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from yarl import URL

IPAddress = IPv4Address | IPv6Address

SHARED = IPv4Network("100.64.0.0/10")            # carrier-grade NAT (RFC 6598)
UNIQUE_LOCAL = IPv6Network("fc00::/7")
NAT64 = IPv6Network("64:ff9b::/96")              # the well-known NAT64 prefix (RFC 6052)
LOCAL_NAT64 = IPv6Network("64:ff9b:1::/48")      # the local-use NAT64 prefix (RFC 8215): a private network
IPV4_COMPATIBLE = IPv6Network("::/96")           # deprecated ::a.b.c.d (RFC 4291 2.5.5.1)
IPV4_TRANSLATED = IPv6Network("::ffff:0:0:0/96")  # SIIT ::ffff:0:a.b.c.d (RFC 2765)

_HEX_OR_DECIMAL = re.compile(r"(?:0[xX][0-9a-fA-F]*|[0-9]+)")


def _low32(address: IPv6Address) -> IPv4Address:
    return IPv4Address(int(address) & 0xFFFFFFFF)


def embedded_ipv4(address: IPv6Address) -> tuple[str, IPv4Address] | None:
    """The IPv4 address an IPv6 one carries, with the name of the form, or None."""
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", address.ipv4_mapped
    if address in IPV4_TRANSLATED:
        return "IPv4-translated", _low32(address)
    if address in NAT64:
        return "NAT64", _low32(address)
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    if address.teredo is not None:
        return "Teredo", address.teredo[1]
    if address in IPV4_COMPATIBLE and int(address) > 1:   # :: and ::1 are judged as themselves
        return "IPv4-compatible", _low32(address)
    return None


def _own_reason(address: IPAddress) -> str | None:
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, IPv4Address) and address in SHARED:
        return "shared (carrier-grade NAT)"
    if isinstance(address, IPv6Address) and address in UNIQUE_LOCAL:
        return "unique-local"
    if isinstance(address, IPv6Address) and address.is_site_local:
        return "site-local"
    if isinstance(address, IPv6Address) and address in LOCAL_NAT64:
        return "local-use NAT64"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "not globally reachable"
    return None


def non_public_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not be fetched from (e.g. ``"loopback"``), or None when it is public."""
    if isinstance(address, IPv6Address):
        if address.scope_id:
            address = IPv6Address(int(address))   # fe80::1%eth0 is judged as fe80::1
        embedded = embedded_ipv4(address)
        if embedded is not None:
            form, inner = embedded
            reason = _own_reason(inner)
            if reason is not None:
                return f"{reason} ({form} {inner})"
            if form in ("6to4", "Teredo"):   # a prefix of its own: judged as an IPv6 address too
                return _own_reason(address)
            return None   # a public IPv4 address written in IPv6: the IPv4 address is what is reached
    return _own_reason(address)


def is_public(address: IPAddress) -> bool:
    return non_public_reason(address) is None


def parse_address(host: str) -> IPAddress | None:
    """``host`` (a URL's host, brackets removed, a zone as ``%25`` or ``%``) as an address, or None when
    it is not an IP literal."""
    try:
        return ip_address(host.replace("%25", "%"))
    except ValueError:
        return None


def is_numeric_host(host: str) -> bool:
    """The WHATWG URL rule: a host whose last label is a number (decimal, or hex with ``0x``) is an IPv4
    address, whatever else it looks like (``2130706433``, ``0x7f.1``, ``127.1``, ``0177.0.0.1``).
    :func:`parse_address` reads only the canonical dotted quad; every other such host is refused."""
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    return bool(labels) and _HEX_OR_DECIMAL.fullmatch(labels[-1]) is not None


def normalise_name(host: str) -> str:
    return host.rstrip(".").lower()


@dataclass(frozen=True)
class AllowEntry:
    name: str | None            # a host name (lower case, ASCII/IDNA, no trailing dot) ...
    address: IPAddress | None   # ... or an address
    port: int | None            # None: any port

    def matches_port(self, port: int | None) -> bool:
        return self.port is None or self.port == port


_BRACKETED = re.compile(r"\[([^\]]+)\](?::([0-9]{1,5}))?")


def parse_allow_entry(entry: str) -> AllowEntry:
    """One ``ingest.allow_hosts`` entry: ``name``, ``name:port``, ``address``, ``address:port``, with an
    IPv6 address bracketed when a port follows (``[fd00::5]:8080``). Raises ValueError when malformed."""
    text = entry.strip()
    port_text: str | None = None
    if not text or any(c in text for c in "/?#@ \t"):
        raise ValueError(f"ingest.allow_hosts: {entry!r} is not a host (give a name or an address, "
                         "optionally with :port)")
    if text.startswith("["):
        match = _BRACKETED.fullmatch(text)
        if match is None:
            raise ValueError(f"ingest.allow_hosts: {entry!r} is not [IPv6 address] or [IPv6 address]:port")
        host, port_text = match.group(1), match.group(2)
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host = text
    port = None
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"ingest.allow_hosts: {entry!r} has no valid port")
        port = int(port_text)
    address = parse_address(host)
    if address is not None:
        return AllowEntry(name=None, address=address, port=port)
    if ":" in host:
        raise ValueError(f"ingest.allow_hosts: {entry!r} is not a valid IPv6 address")
    if is_numeric_host(host):
        raise ValueError(f"ingest.allow_hosts: {entry!r} is not a dotted-quad IPv4 address")
    try:
        raw = URL.build(scheme="http", host=host).raw_host   # the form a URL's host takes (IDNA, lower case)
    except ValueError as exc:
        raise ValueError(f"ingest.allow_hosts: {entry!r} is not a valid host name") from exc
    if not raw:
        raise ValueError(f"ingest.allow_hosts: {entry!r} is not a valid host name")
    return AllowEntry(name=normalise_name(raw), address=None, port=port)


class AllowList:
    """The entries of ``ingest.allow_hosts``, parsed once."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.entries = tuple(parse_allow_entry(entry) for entry in entries)

    def allows_name(self, name: str, port: int | None) -> bool:
        """``name`` (a URL's raw host) is listed, with this port or with none: its addresses are not filtered."""
        wanted = normalise_name(name)
        return any(e.name == wanted and e.matches_port(port) for e in self.entries)

    def allows_address(self, address: IPAddress, port: int | None) -> bool:
        """A URL whose host is the literal ``address`` is listed, with this port or with none."""
        if isinstance(address, IPv6Address) and address.scope_id:
            return False   # a zone is never listed: fe80::1%eth0 is not fe80::1
        return any(e.address == address and e.matches_port(port) for e in self.entries)

    def __bool__(self) -> bool:
        return bool(self.entries)
