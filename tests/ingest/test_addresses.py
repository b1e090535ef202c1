"""The address rules and the allow-list, as tables (pure functions: nothing is resolved or contacted)."""

from __future__ import annotations

from ipaddress import ip_address

import pytest
from pydantic import ValidationError
from yarl import URL

from gateway.ingest.addresses import AllowList, is_numeric_host, non_public_reason, parse_allow_entry
from gateway.ingest.errors import IngestRefused
from gateway.ingest.guard import check_url
from gateway.settings import IngestSettings, load_settings

PUBLIC = None

# (address, the reason it is refused, or PUBLIC)
ADDRESSES = [
    ("8.8.8.8", PUBLIC),
    ("1.1.1.1", PUBLIC),
    ("93.184.216.34", PUBLIC),
    ("2606:4700:4700::1111", PUBLIC),
    ("2a00:1450:4001:80b::200e", PUBLIC),
    ("::ffff:8.8.8.8", PUBLIC),                 # a public IPv4 address written as IPv4-mapped
    ("64:ff9b::808:808", PUBLIC),               # ... through NAT64
    ("2002:808:808::1", PUBLIC),                # ... a 6to4 prefix of a public address
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("::1", "loopback"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("10.0.0.5", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),          # cloud metadata
    ("169.254.0.1", "link-local"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("100.64.0.1", "shared (carrier-grade NAT)"),
    ("100.127.255.254", "shared (carrier-grade NAT)"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),                   # global-scope multicast: ipaddress calls it global
    ("240.0.0.1", "private"),                   # reserved (ipaddress lists 240/4 as private too)
    ("255.255.255.255", "private"),
    ("192.0.2.1", "private"),                   # documentation
    ("198.18.0.1", "private"),                  # benchmarking
    ("fc00::1", "unique-local"),
    ("fd12:3456:789a::1", "unique-local"),
    ("fec0::1", "site-local"),                  # deprecated, and ipaddress calls it global
    ("2001:db8::1", "private"),                 # documentation
    ("::ffff:127.0.0.1", "loopback (IPv4-mapped 127.0.0.1)"),
    ("::ffff:10.0.0.1", "private (IPv4-mapped 10.0.0.1)"),
    ("::ffff:169.254.169.254", "link-local (IPv4-mapped 169.254.169.254)"),
    ("::127.0.0.1", "loopback (IPv4-compatible 127.0.0.1)"),
    ("::ffff:0:127.0.0.1", "loopback (IPv4-translated 127.0.0.1)"),
    ("64:ff9b::7f00:1", "loopback (NAT64 127.0.0.1)"),
    ("64:ff9b::a9fe:a9fe", "link-local (NAT64 169.254.169.254)"),
    ("64:ff9b:1::a00:1", "local-use NAT64"),
    ("2002:7f00:1::1", "loopback (6to4 127.0.0.1)"),
    ("2002:a00:1::1", "private (6to4 10.0.0.1)"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback (Teredo 127.0.0.1)"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "private (Teredo 192.0.2.45)"),
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "private"),   # Teredo of 8.8.8.8: 2001::/32 is not global
]


@pytest.mark.parametrize(("address", "verdict"), ADDRESSES)
def test_address_classification(address: str, verdict: str | None) -> None:
    assert non_public_reason(ip_address(address)) == verdict


@pytest.mark.parametrize(("host", "numeric"), [
    ("2130706433", True), ("0x7f.1", True), ("127.1", True), ("0177.0.0.1", True), ("0x7f000001", True),
    ("1.2.3.4.5", True), ("127.0.0.1", True), ("example.0x10", True), ("0x", True), ("10.", True),
    ("example.com", False), ("localhost", False), ("1a.example", False), ("0xg", False), ("v6.example.", False),
])
def test_hosts_that_are_numbers_are_read_as_ipv4(host: str, numeric: bool) -> None:
    assert is_numeric_host(host) is numeric


# URLs judged before any connection: (url, the refusal message, or None when left to the resolver)
URLS = [
    ("http://127.0.0.1/", "non-public address (loopback)"),
    ("http://127.0.0.1:8080/x", "non-public address (loopback)"),
    ("http://[::1]:8080/", "non-public address (loopback)"),
    ("http://[::ffff:127.0.0.1]/", "non-public address (loopback (IPv4-mapped 127.0.0.1))"),
    ("http://[::ffff:7f00:1]/", "non-public address (loopback (IPv4-mapped 127.0.0.1))"),
    ("http://[fe80::1%25eth0]/", "non-public address (link-local)"),
    ("http://169.254.169.254/latest/meta-data/", "non-public address (link-local)"),
    ("http://0.0.0.0:80/", "non-public address (unspecified)"),
    ("http://[::]/", "non-public address (unspecified)"),
    ("http://10.0.0.5/", "non-public address (private)"),
    ("http://100.64.0.1/", "non-public address (shared (carrier-grade NAT))"),
    ("http://2130706433/", "a number but not a dotted-quad"),
    ("http://0x7f.1/", "a number but not a dotted-quad"),
    ("http://0x7f000001/", "a number but not a dotted-quad"),
    ("http://127.1/", "a number but not a dotted-quad"),
    ("http://0177.0.0.1/", "a number but not a dotted-quad"),
    ("http://017700000001/", "a number but not a dotted-quad"),
    ("http://①②⑦.0.0.1/", "non-public address (loopback)"),   # yarl folds the digits: 127.0.0.1
    ("file:///etc/passwd", "only http and https"),
    ("gopher://127.0.0.1:6379/_INFO", "only http and https"),
    ("ftp://example.com/video.mp4", "only http and https"),
    ("dict://127.0.0.1:11211/", "only http and https"),
    ("//example.com/video.mp4", "only http and https"),
    ("/video.mp4", "only http and https"),
    ("http:///video.mp4", "no host"),
    ("http://8.8.8.8/video.mp4", None),
    ("https://[2606:4700:4700::1111]/video.mp4", None),
    ("https://media.example.com/video.mp4", None),
    ("http://localhost/", None),   # a name: its addresses are judged when it is resolved
]


@pytest.mark.parametrize(("url", "refusal"), URLS)
def test_what_the_url_alone_decides(url: str, refusal: str | None) -> None:
    if refusal is None:
        check_url(URL(url), AllowList())
    else:
        with pytest.raises(IngestRefused, match=refusal.replace("(", r"\(").replace(")", r"\)")):
            check_url(URL(url), AllowList())


def test_a_listed_address_matches_only_itself_and_its_port() -> None:
    allow = AllowList(["10.0.0.5", "127.0.0.1:8080", "[fd00::5]:443", "fd00::6"])
    check_url(URL("http://10.0.0.5/"), allow)
    check_url(URL("http://10.0.0.5:9999/"), allow)      # no port given: any port
    check_url(URL("http://127.0.0.1:8080/"), allow)
    check_url(URL("https://[fd00::5]/"), allow)         # 443 is https' default port
    check_url(URL("http://[fd00::6]:1234/"), allow)
    for refused in ("http://10.0.0.6/", "http://10.0.0.4/", "http://127.0.0.1/", "http://127.0.0.1:8081/",
                    "http://[::ffff:127.0.0.1]:8080/", "http://[::ffff:10.0.0.5]/", "http://[fd00::5]:80/",
                    "http://2130706433:8080/", "http://127.1:8080/", "http://[fd00::5%25eth0]:443/"):
        with pytest.raises(IngestRefused):
            check_url(URL(refused), allow)
    # an address never allows a name, even one that resolves to it: names are matched as names
    assert not allow.allows_name("localhost", 8080)
    assert not allow.allows_name("10.0.0.5", 80)


def test_a_listed_name_matches_only_itself_case_insensitively() -> None:
    allow = AllowList(["Media.Internal", "cache.internal:8080"])
    assert allow.allows_name("media.internal", 80)
    assert allow.allows_name("MEDIA.internal.", 443)
    assert allow.allows_name("cache.internal", 8080)
    assert not allow.allows_name("cache.internal", 80)
    assert not allow.allows_name("evil.media.internal", 80)
    assert not allow.allows_name("media.internal.evil.com", 80)
    assert not allow.allows_name("localhost", 80)
    assert not allow.allows_address(ip_address("127.0.0.1"), 80)


@pytest.mark.parametrize("entry", ["http://media.internal/", "media.internal/x", "user@host", "host:0",
                                   "host:70000", "host:x", "[fd00::1", "[10.0.0.1]:80x", "0x7f.1", "2130706433",
                                   "", "   ", "a b", "::1:80:x:y:z:1:2:3"])
def test_malformed_allow_list_entries_are_refused_at_start_up(entry: str) -> None:
    with pytest.raises(ValueError, match=r"ingest\.allow_hosts"):
        parse_allow_entry(entry)
    with pytest.raises(ValidationError):
        IngestSettings(allow_hosts=[entry])


def test_the_ingest_settings_load_from_the_settings_file_shape() -> None:
    settings = load_settings(None, ingest={"allow_hosts": ["media.internal", "10.0.0.5:8080", "[fd00::5]:443"],
                                           "read_timeout": "45s", "max_redirects": 2})
    assert settings.ingest.allow_hosts == ["media.internal", "10.0.0.5:8080", "[fd00::5]:443"]
    assert settings.ingest.read_timeout == 45.0 and settings.ingest.max_redirects == 2
    assert load_settings(None).ingest == IngestSettings()
    with pytest.raises(ValidationError):
        IngestSettings(max_redirects=6)
