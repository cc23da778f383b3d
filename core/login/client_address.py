"""The client's address: the peer the LVS saw, or what trusted proxies say they saw before it.

Walk the forwarding chain from the right and stop at the first hop that is not a trusted
proxy: everything to its left was written by the client and proves nothing. A hop that cannot
be read stops the walk with "unknown", which the IP rule treats as a deny, never an allow.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Literal

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network
ProxyHeader = Literal["x-forwarded-for", "forwarded"]
HeaderValue = str | Sequence[str] | None

# No real chain has this many proxies; the cap keeps a huge forged header cheap to reject.
MAX_HOPS = 32
RAW_MAX = 64  # the audit column's width
# Wider than this is (nearly) everyone: no school owns such a network, no proxy fleet fills one.
WIDEST_PREFIX = {4: 8, 6: 16}

_PORT = re.compile(r":(\d{1,5}|_[A-Za-z0-9._-]+)")  # RFC 7239 node-port, obfuscated ones too
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# RFC 7239 wants ':' '[' ']' quoted, but proxies write them bare; they delimit nothing.
_LOOSE_VALUE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z:\[\]-]+")
_OWS = re.compile(r"[ \t]*")


@dataclass(frozen=True, slots=True)
class ClientAddress:
    """Where a login came from: ``ip`` is None when it could not be determined."""

    ip: IPAddress | None
    raw: str  # the text it was read from, printable and cut to RAW_MAX (for the audit)
    via: Literal["peer", "x-forwarded-for", "forwarded"]

    @property
    def text(self) -> str:
        """The address for display and audit: canonical when known, else the raw text."""
        return str(self.ip) if self.ip is not None else self.raw


def clean(text: str | None) -> str:
    """Printable ASCII only, at most RAW_MAX characters: headers are attacker-controlled."""
    return "".join(ch for ch in (text or "") if " " <= ch <= "~")[:RAW_MAX]


def unwrap_mapped(ip: IPAddress) -> IPAddress:
    """::ffff:192.0.2.1 (an IPv4 client on a dual-stack socket) is 192.0.2.1."""
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def parse_address(text: str | None) -> IPAddress | None:
    """One address as peers and headers write it, or None if it is not one.

    Takes "192.0.2.1", "192.0.2.1:1234", "2001:db8::1", "[2001:db8::1]:443", quoted forms, and
    IPv4-mapped IPv6 (unwrapped). An IPv6 zone id ("fe80::1%eth0") is dropped: it names an
    interface of whoever wrote it, not part of the address. "unknown", obfuscated identifiers
    ("_hidden") and garbage are None.
    """
    value = (text or "").strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].strip()
    if value.startswith("["):
        end = value.find("]")
        rest = value[end + 1 :] if end != -1 else None
        if rest is None or (rest and not _is_port(rest)):
            return None
        value = value[1:end]
    elif value.count(":") == 1:  # only IPv4 with a port has exactly one colon
        value, _, port = value.partition(":")
        if not _is_port(":" + port):
            return None
    try:
        ip = ip_address(value)
    except ValueError:
        return None
    if isinstance(ip, IPv6Address) and ip.scope_id is not None:
        ip = IPv6Address(ip.packed)
    return unwrap_mapped(ip)


def _is_port(text: str) -> bool:
    match = _PORT.fullmatch(text)
    return match is not None and (not text[1:].isdigit() or int(text[1:]) <= 65535)


def is_trusted(ip: IPAddress, trusted_proxies: Sequence[IPNetwork]) -> bool:
    # An IPv4 address is never "in" an IPv6 network (ipaddress answers False), as wanted.
    return any(ip in network for network in trusted_proxies)


def derive_client_address(
    peer: str | None,
    *,
    x_forwarded_for: HeaderValue = None,
    forwarded: HeaderValue = None,
    trusted_proxies: Sequence[IPNetwork] = (),
    proxy_header: ProxyHeader = "x-forwarded-for",
) -> ClientAddress:
    """The client's address from the LVS's peer address and the headers the LVS received.

    Only ``proxy_header`` (the one the trusted proxies append to) is read, and only when the
    peer itself is a trusted proxy; the other header could only have come from the client.
    """
    peer_ip = parse_address(peer)
    if peer_ip is None or not is_trusted(peer_ip, trusted_proxies):
        return ClientAddress(peer_ip, clean(peer), "peer")
    if proxy_header == "forwarded":
        hops = forwarded_hops(forwarded)
        if hops is None:
            return ClientAddress(None, "malformed Forwarded header", "forwarded")
    else:
        hops = x_forwarded_for_hops(x_forwarded_for)
    client = ClientAddress(peer_ip, clean(peer), "peer")
    for count, raw in enumerate(reversed(hops)):
        if count == MAX_HOPS:
            return ClientAddress(None, f"more than {MAX_HOPS} proxies", proxy_header)
        ip = parse_address(raw)
        if ip is None:
            return ClientAddress(None, clean(raw), proxy_header)
        client = ClientAddress(ip, clean(raw), proxy_header)
        if not is_trusted(ip, trusted_proxies):
            return client
    # Every hop was a trusted proxy (or there were none): the leftmost is the best we know.
    return client


def _joined(value: HeaderValue) -> str:
    # Several header lines of one name mean the same as one line joined by commas (RFC 9110).
    if value is None:
        return ""
    return value if isinstance(value, str) else ",".join(value)


def x_forwarded_for_hops(value: HeaderValue) -> list[str]:
    """The addresses in X-Forwarded-For, left (client side) to right (nearest proxy)."""
    text = _joined(value)
    return [] if not text.strip() else [item.strip() for item in text.split(",")]


def forwarded_hops(value: HeaderValue) -> list[str] | None:
    """The ``for=`` value of each RFC 7239 Forwarded element, left to right.

    None when the header does not parse: a broken quote could hide where one element ends and
    the next begins, so no part of it can be believed. An element without ``for=`` yields ""
    (unknown).
    """
    elements = parse_forwarded(_joined(value))
    return None if elements is None else [element.get("for", "") for element in elements]


def parse_forwarded(text: str) -> list[dict[str, str]] | None:
    """Parse a Forwarded header into its elements (parameter names lower-cased), or None."""
    elements: list[dict[str, str]] = []
    pairs: dict[str, str] = {}
    pos = _skip(text, 0)
    while pos < len(text):
        if text[pos] in ",;":  # empty list elements and empty pairs are allowed
            if text[pos] == "," and pairs:
                elements.append(pairs)
                pairs = {}
            pos = _skip(text, pos + 1)
            continue
        name = _TOKEN.match(text, pos)
        if name is None or name.end() >= len(text) or text[name.end()] != "=":
            return None
        pos = name.end() + 1
        if pos < len(text) and text[pos] == '"':
            parsed = _quoted_string(text, pos)
            if parsed is None:
                return None
            value, pos = parsed
        else:
            match = _LOOSE_VALUE.match(text, pos)
            if match is None:
                return None
            value, pos = match.group(), match.end()
        key = name.group().lower()
        if key in pairs:  # RFC 7239: a parameter at most once per element
            return None
        pairs[key] = value
        pos = _skip(text, pos)
        if pos < len(text) and text[pos] not in ",;":
            return None
    if pairs:
        elements.append(pairs)
    return elements


def _skip(text: str, pos: int) -> int:
    match = _OWS.match(text, pos)
    return match.end() if match else pos


def _quoted_string(text: str, pos: int) -> tuple[str, int] | None:
    """The unescaped content of the quoted-string at ``pos`` and the position after it."""
    out: list[str] = []
    pos += 1
    while pos < len(text):
        ch = text[pos]
        if ch == '"':
            return "".join(out), pos + 1
        if ch == "\\":
            pos += 1
            if pos == len(text):
                return None
            ch = text[pos]
        out.append(ch)
        pos += 1
    return None
