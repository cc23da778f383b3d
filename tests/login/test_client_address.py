"""The client address, table by table: the top complaint about IP rules, so tested hard."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest

from core.login.client_address import (
    MAX_HOPS,
    RAW_MAX,
    clean,
    derive_client_address,
    forwarded_hops,
    parse_address,
    parse_forwarded,
)

TRUSTED = [ip_network("10.0.0.0/8"), ip_network("2001:db8:ff::/48"), ip_network("127.0.0.1/32")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("  192.0.2.1\t", "192.0.2.1"),
        ("192.0.2.1:1234", "192.0.2.1"),
        ("192.0.2.1:65535", "192.0.2.1"),
        ("192.0.2.1:0", "192.0.2.1"),
        ("192.0.2.1:_obf", "192.0.2.1"),  # RFC 7239 obfuscated port: the address still counts
        ('"192.0.2.1"', "192.0.2.1"),
        ('"192.0.2.1:80"', "192.0.2.1"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ('"[2001:db8::1]:443"', "2001:db8::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("::FFFF:192.0.2.1", "192.0.2.1"),
        ("::ffff:c000:201", "192.0.2.1"),
        ("[::ffff:192.0.2.1]:8080", "192.0.2.1"),
        ("::1", "::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("fe80::1%eth0", "fe80::1"),  # a zone names an interface of the writer: dropped
        ("::192.0.2.1", "::c000:201"),  # IPv4-compatible (deprecated) is not mapped: not unwrapped
    ],
)
def test_addresses_that_parse(text, expected):
    assert parse_address(text) == ip_address(expected)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "   ",
        "unknown",
        "_hidden",
        "_SEVKISEK",
        "garbage",
        "192.0.2",
        "192.0.2.256",
        "192.0.2.1.5",
        "192.0.2.01",  # leading zeros: octal or decimal? refuse to guess
        "0x7f.0.0.1",
        "3232235777",  # an integer is not an address in a header
        "192.0.2.1:",
        "192.0.2.1:65536",
        "192.0.2.1:99999",
        "192.0.2.1:80:80",
        "192.0.2.1:http",
        "192.0.2.1/24",
        "[192.0.2.1]x",
        "[2001:db8::1",
        "[2001:db8::1]:",
        "[2001:db8::1]:443:1",
        "2001:db8::g",
        "2001:db8:::1",
        '"192.0.2.1',
        "\u0661\u0669\u0662.\u0660.\u0662.\u0661",  # Arabic-Indic digits
        "192.0.2.1 , 192.0.2.2",
        "192.0.2.1\x00",
        "for=192.0.2.1",
        "unix:/var/run/lvs.sock",
    ],
)
def test_text_that_is_not_an_address(text):
    assert parse_address(text) is None


# (peer, x-forwarded-for, expected client or None, expected via)
XFF_CASES = [
    # No trusted proxy in between: the peer is the client, headers are never read.
    ("198.51.100.7", None, "198.51.100.7", "peer"),
    ("198.51.100.7", "192.0.2.55", "198.51.100.7", "peer"),
    ("198.51.100.7", "10.0.0.9, 192.0.2.55", "198.51.100.7", "peer"),
    ("198.51.100.7", "garbage", "198.51.100.7", "peer"),
    ("198.51.100.7:5555", "192.0.2.55", "198.51.100.7", "peer"),
    ("::ffff:198.51.100.7", "192.0.2.55", "198.51.100.7", "peer"),
    # A trusted peer: the first untrusted hop from the right is the client.
    ("10.0.0.2", "192.0.2.55", "192.0.2.55", "x-forwarded-for"),
    ("10.0.0.2", "192.0.2.55, 10.0.0.3", "192.0.2.55", "x-forwarded-for"),
    ("10.0.0.2", "192.0.2.55,10.0.0.3,10.9.9.9", "192.0.2.55", "x-forwarded-for"),
    ("10.0.0.2", "  192.0.2.55 ,  10.0.0.3  ", "192.0.2.55", "x-forwarded-for"),
    ("10.0.0.2:41234", "192.0.2.55", "192.0.2.55", "x-forwarded-for"),
    ("::ffff:10.0.0.2", "192.0.2.55", "192.0.2.55", "x-forwarded-for"),
    ("10.0.0.2", "::ffff:192.0.2.55", "192.0.2.55", "x-forwarded-for"),
    ("10.0.0.2", "::ffff:10.0.0.3, 192.0.2.55", "192.0.2.55", "x-forwarded-for"),
    ("10.0.0.2", "192.0.2.55:6000", "192.0.2.55", "x-forwarded-for"),
    ("10.0.0.2", "[2001:db8::5]:6000", "2001:db8::5", "x-forwarded-for"),
    ("10.0.0.2", "2001:db8::5", "2001:db8::5", "x-forwarded-for"),
    ("2001:db8:ff::2", "192.0.2.55", "192.0.2.55", "x-forwarded-for"),
    ("[2001:db8:ff::2]:443", "192.0.2.55, 2001:db8:ff::3", "192.0.2.55", "x-forwarded-for"),
    ("10.0.0.2", '"192.0.2.55"', "192.0.2.55", "x-forwarded-for"),
    # Whatever the client wrote to the left of the first untrusted hop is ignored.
    ("10.0.0.2", "192.0.2.55, 198.51.100.7", "198.51.100.7", "x-forwarded-for"),
    ("10.0.0.2", "10.0.0.5, 198.51.100.7", "198.51.100.7", "x-forwarded-for"),
    ("10.0.0.2", "garbage, 198.51.100.7", "198.51.100.7", "x-forwarded-for"),
    ("10.0.0.2", "unknown, 198.51.100.7, 10.0.0.3", "198.51.100.7", "x-forwarded-for"),
    (
        "10.0.0.2",
        "192.0.2.55, 192.0.2.56, 198.51.100.7, 10.0.0.3",
        "198.51.100.7",
        "x-forwarded-for",
    ),
    # A trusted peer without a header: the peer (a proxy) is all we know.
    ("10.0.0.2", None, "10.0.0.2", "peer"),
    ("10.0.0.2", "", "10.0.0.2", "peer"),
    ("10.0.0.2", "   ", "10.0.0.2", "peer"),
    # Every hop trusted: the leftmost is the best we know.
    ("10.0.0.2", "10.0.0.3, 10.0.0.4", "10.0.0.3", "x-forwarded-for"),
    # A hop we must read but cannot: unknown, so denied by the IP rule.
    ("10.0.0.2", "garbage", None, "x-forwarded-for"),
    ("10.0.0.2", "unknown", None, "x-forwarded-for"),
    ("10.0.0.2", "_hidden", None, "x-forwarded-for"),
    ("10.0.0.2", "192.0.2.55, ", None, "x-forwarded-for"),
    ("10.0.0.2", "192.0.2.55,,10.0.0.3", None, "x-forwarded-for"),
    ("10.0.0.2", "192.0.2.55, garbage, 10.0.0.3", None, "x-forwarded-for"),
    ("10.0.0.2", "192.0.2.300", None, "x-forwarded-for"),
    # A peer we cannot read: unknown, and its headers are not believed either.
    ("not-an-ip", "192.0.2.55", None, "peer"),
    ("", "192.0.2.55", None, "peer"),
    (None, "192.0.2.55", None, "peer"),
    ("10.0.0.2.", "192.0.2.55", None, "peer"),
]


@pytest.mark.parametrize(("peer", "xff", "expected", "via"), XFF_CASES)
def test_x_forwarded_for_walk(peer, xff, expected, via):
    client = derive_client_address(peer, x_forwarded_for=xff, trusted_proxies=TRUSTED)
    assert client.ip == (ip_address(expected) if expected else None)
    assert client.via == via


def test_no_trusted_proxies_configured_means_the_peer_always():
    client = derive_client_address("10.0.0.2", x_forwarded_for="192.0.2.55")
    assert client.ip == ip_address("10.0.0.2") and client.via == "peer"


def test_several_x_forwarded_for_lines_are_one_list_in_order():
    lines = ["192.0.2.55", "198.51.100.7, 10.0.0.3"]
    client = derive_client_address("10.0.0.2", x_forwarded_for=lines, trusted_proxies=TRUSTED)
    assert client.ip == ip_address("198.51.100.7")
    lines = ["198.51.100.7", "192.0.2.55"]
    client = derive_client_address("10.0.0.2", x_forwarded_for=lines, trusted_proxies=TRUSTED)
    assert client.ip == ip_address("192.0.2.55")


def test_an_ipv4_client_is_never_inside_an_ipv6_trusted_network():
    trusted = [ip_network("::/0")]  # absurd, but must not make IPv4 peers trusted
    client = derive_client_address(
        "198.51.100.7", x_forwarded_for="192.0.2.55", trusted_proxies=trusted
    )
    assert client.ip == ip_address("198.51.100.7") and client.via == "peer"


def test_the_header_not_configured_is_ignored():
    # Proxies append to X-Forwarded-For: a Forwarded header came from the client.
    client = derive_client_address(
        "10.0.0.2",
        x_forwarded_for="198.51.100.7",
        forwarded="for=192.0.2.55",
        trusted_proxies=TRUSTED,
    )
    assert client.ip == ip_address("198.51.100.7")
    # Proxies write Forwarded: an X-Forwarded-For came from the client.
    client = derive_client_address(
        "10.0.0.2",
        x_forwarded_for="192.0.2.55",
        forwarded="for=198.51.100.7",
        trusted_proxies=TRUSTED,
        proxy_header="forwarded",
    )
    assert client.ip == ip_address("198.51.100.7") and client.via == "forwarded"


FORWARDED_CASES = [
    ("for=192.0.2.55", "192.0.2.55"),
    ("For=192.0.2.55", "192.0.2.55"),
    ("FOR=192.0.2.55;PROTO=https", "192.0.2.55"),
    ('for="192.0.2.55"', "192.0.2.55"),
    ('for="192.0.2.55:8080"', "192.0.2.55"),
    ('for="[2001:db8::5]"', "2001:db8::5"),
    ('for="[2001:db8::5]:4711"', "2001:db8::5"),
    ("for=[2001:db8::5]:4711", "2001:db8::5"),  # unquoted, against the RFC, but unambiguous
    ('for="[::ffff:192.0.2.55]"', "192.0.2.55"),
    ("for=192.0.2.55;proto=http;by=203.0.113.43", "192.0.2.55"),
    ("proto=https;for=192.0.2.55", "192.0.2.55"),
    ("for=192.0.2.55; proto=https", "192.0.2.55"),
    ("for=192.0.2.55, for=10.0.0.3", "192.0.2.55"),
    ("for=198.51.100.7, for=192.0.2.55, for=10.0.0.3", "192.0.2.55"),
    ('for=192.0.2.56, for="192.0.2.55";host="lvs.example, with comma"', "192.0.2.55"),
    ('for=192.0.2.55;host="a\\"b"', "192.0.2.55"),  # an escaped quote inside a quoted string
    ("for=192.0.2.55,, for=10.0.0.3", "192.0.2.55"),  # empty list elements mean nothing
    # Unusable hops stop the walk: unknown.
    ("for=unknown", None),
    ("for=_hidden", None),
    ("for=_hidden, for=10.0.0.3", None),
    ("proto=https", None),  # an element without for=
    ("for=192.0.2.55, proto=https", None),
    # Broken syntax: nothing in the header can be believed.
    ('for="192.0.2.55', None),
    ('for=192.0.2.55;x="', None),
    ('for=10.0.0.5;x=", for="[2001:db8::9]"', None),  # a forged quote swallowing our hop
    ("for=192.0.2.55;for=192.0.2.56", None),  # a parameter twice in one element
    ("for", None),
    ("for=", None),
    ("=192.0.2.55", None),
    ("for=192.0.2.55 proto=https", None),
    ('for="192.0.2.55"x', None),
    ("for=192.0.2.55;", "192.0.2.55"),
]


@pytest.mark.parametrize(("header", "expected"), FORWARDED_CASES)
def test_forwarded_walk(header, expected):
    client = derive_client_address(
        "10.0.0.2", forwarded=header, trusted_proxies=TRUSTED, proxy_header="forwarded"
    )
    assert client.ip == (ip_address(expected) if expected else None)
    assert client.via == "forwarded"


def test_forwarded_is_not_read_from_an_untrusted_peer():
    client = derive_client_address(
        "198.51.100.7",
        forwarded="for=192.0.2.55",
        trusted_proxies=TRUSTED,
        proxy_header="forwarded",
    )
    assert client.ip == ip_address("198.51.100.7") and client.via == "peer"


def test_parse_forwarded_elements_and_parameters():
    elements = parse_forwarded(
        'for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"'
    )
    assert elements == [
        {"for": "192.0.2.60", "proto": "http", "by": "203.0.113.43"},
        {"for": "[2001:db8:cafe::17]:4711"},
    ]
    assert forwarded_hops(["for=192.0.2.1", "for=192.0.2.2"]) == ["192.0.2.1", "192.0.2.2"]
    assert forwarded_hops(None) == []
    assert forwarded_hops('for="') is None


def test_a_chain_longer_than_any_real_one_is_not_walked():
    many = ", ".join(["10.0.0.9"] * (MAX_HOPS + 5))
    client = derive_client_address(
        "10.0.0.2", x_forwarded_for=f"192.0.2.55, {many}", trusted_proxies=TRUSTED
    )
    assert client.ip is None
    # Lots of forged hops to the left of the real client cost nothing and change nothing.
    forged = ", ".join(["192.0.2.55"] * 1000)
    client = derive_client_address(
        "10.0.0.2", x_forwarded_for=f"{forged}, 198.51.100.7", trusted_proxies=TRUSTED
    )
    assert client.ip == ip_address("198.51.100.7")


def test_the_raw_text_is_printable_and_short_for_the_audit():
    nasty = "192.0.2.55\r\nX-Injected: 1" + "A" * 500
    client = derive_client_address("10.0.0.2", x_forwarded_for=nasty, trusted_proxies=TRUSTED)
    assert client.ip is None
    assert len(client.raw) <= RAW_MAX and "\r" not in client.raw and "\n" not in client.raw
    assert client.text == client.raw
    assert clean("ok\x00\x7f\u00e9") == "ok"
    known = derive_client_address("[2001:db8::1]:443")
    assert known.text == "2001:db8::1" and known.raw == "[2001:db8::1]:443"
