"""Server-side request forgery checks for client notification URLs (pure: no I/O).

A client service chooses the URL regie POSTs to, so without checks a tenant could make
regie call its own network: the cloud metadata service (169.254.169.254), the database,
an admin port on loopback. The rules:

- production: ``https`` only, and *every* address the host resolves to must be public:
  not private, loopback, link-local, multicast, reserved, unspecified, shared (CGNAT) or
  otherwise non-global, for IPv4 and IPv6 alike. IPv6 forms that embed an IPv4 address
  (IPv4-mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) are judged
  by the IPv4 address they carry.
- development: the same, plus loopback (``http`` or ``https``); ``http`` is accepted only
  when every address is loopback (a receiver on the developer's machine).
- no credentials in the URL, no fragment, no ambiguous numeric hosts (``127.1``,
  ``0x7f.0.0.1``, ``2130706433``: C resolvers read them as IP addresses).

Names are resolved by an injected ``Resolver`` (``guard.system_resolver`` runs
``getaddrinfo`` in a thread; tests give a dictionary), at registration *and again before
each delivery*, and the delivery then connects to the very address that was checked
(``pinned_url``; the name goes in the Host header and the TLS SNI), so a DNS answer that
changes between the check and the connection (DNS rebinding) cannot redirect it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

MAX_URL_LENGTH = 2048

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

# A host name's label (RFC 952, RFC 1123 2.1): letters, digits, hyphens inside. DNS itself
# takes more in a label (RFC 2181 section 11: an underscore, as in _dmarc or _sip._tcp, which
# name records, not hosts), but a notification goes over TLS to the name: no public CA may
# put an underscore in a certificate's name since 2019 (the CA/Browser Forum's Baseline
# Requirements, ballot SC12), and OpenSSL matches no *.example.org to a_b.example.org; such
# a URL could never be delivered to, so it is refused when registered, saying why
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_SHARED = ipaddress.ip_network("100.64.0.0/10")
# IETF protocol assignments (RFC 6890): not globally routable, but Pythons before 3.11.10
# (CVE-2024-4032) call most of it global; said here so that every Python refuses it
_IETF = ipaddress.ip_network("192.0.0.0/24")


class UnsafeUrl(ValueError):
    """A URL regie will not call. ``code`` is the API error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str  # lower-case; an IPv6 literal without brackets
    port: int
    ip_literal: IPAddress | None

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


@dataclass(frozen=True)
class Pinned:
    """A checked target and the checked address to connect to; ``others``: the host's
    other checked addresses, tried in turn when a connection to it fails."""

    target: Target
    address: str
    others: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return pinned_url(self.target, self.address)

    @property
    def addresses(self) -> tuple[str, ...]:
        return (self.address, *self.others)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return None


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why regie must not connect to ``ip`` (``None`` for a public address)."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            reason = forbidden_reason(inner)
            return f"{reason} (embedded in IPv6)" if reason else None
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "shared (carrier-grade NAT)"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _IETF:
        return "not globally routable"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "site-local"
    if not ip.is_global:
        return "not globally routable"
    return None


def _is_loopback(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return inner.is_loopback
    return ip.is_loopback


def parse_ip(value: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def parse(url: str, *, production: bool) -> Target:
    """Check the URL's form (no lookup). Raises ``UnsafeUrl``."""
    if not url or len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl("url_invalid", f"The URL must be 1 to {MAX_URL_LENGTH} characters.")
    if not url.isascii() or any(c.isspace() or not c.isprintable() for c in url):
        raise UnsafeUrl(
            "url_invalid",
            "The URL must be ASCII without spaces (use punycode for international names).",
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("url_invalid", "The URL is malformed.") from None
    scheme = parts.scheme.lower()
    allowed = ("https",) if production else ("https", "http")
    if scheme not in allowed:
        raise UnsafeUrl(
            "url_scheme_not_allowed",
            "Notification URLs must use https."
            if production
            else "Notification URLs must use https (or http to this machine in development).",
        )
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeUrl("url_invalid", "The URL must not contain credentials.")
    if parts.fragment or url.endswith("#"):
        raise UnsafeUrl("url_invalid", "The URL must not contain a fragment.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeUrl("url_invalid", "The URL has no host.")
    if port == 0:
        raise UnsafeUrl("url_invalid", "The URL's port is invalid.")
    ip = parse_ip(host)
    if ip is None:
        labels = host.split(".")
        if "_" in host:
            raise UnsafeUrl(
                "url_invalid",
                "The URL's host name has an underscore: a host name is letters, digits and "
                "hyphens, and no trusted certificate can name such a host.",
            )
        if not all(_HOST_LABEL.match(label) for label in labels) or len(host) > 253:
            raise UnsafeUrl("url_invalid", "The URL's host name is invalid.")
        if _NUMERIC_LABEL.match(labels[-1]):
            raise UnsafeUrl(
                "url_host_not_allowed", "Give a host name or a plain IP address, not a number."
            )
        if production and (host == "localhost" or host.endswith(".localhost")):
            raise UnsafeUrl("url_host_not_allowed", "The URL points at this machine.")
    elif isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        raise UnsafeUrl("url_host_not_allowed", "IPv6 zone identifiers are not accepted.")
    return Target(
        url=url,
        scheme=scheme,
        host=host,
        port=port if port is not None else (443 if scheme == "https" else 80),
        ip_literal=ip,
    )


def check_addresses(target: Target, addresses: Sequence[str], *, production: bool) -> str:
    """Every address the host resolves to must be allowed; returns the one to connect to."""
    if not addresses:
        raise UnsafeUrl("url_host_unresolvable", "The URL's host does not resolve.")
    parsed: list[IPAddress] = []
    for raw in addresses:
        ip = parse_ip(raw.split("%", 1)[0])
        if ip is None:
            raise UnsafeUrl("url_host_unresolvable", "The URL's host resolves to no address.")
        parsed.append(ip)
    for ip in parsed:
        reason = forbidden_reason(ip)
        if reason is None:
            continue
        if not production and _is_loopback(ip):
            continue
        raise UnsafeUrl(
            "url_host_not_allowed",
            f"The URL's host resolves to a {reason} address; notifications go to public hosts.",
        )
    if target.scheme == "http" and not all(_is_loopback(ip) for ip in parsed):
        raise UnsafeUrl(
            "url_scheme_not_allowed",
            "http is accepted only for a receiver on this machine; use https.",
        )
    return str(parsed[0])


async def vet(url: str, *, production: bool, resolver: Resolver) -> Pinned:
    """Parse, resolve (through ``resolver``) and check; raises ``UnsafeUrl``."""
    target = parse(url, production=production)
    if target.ip_literal is not None:
        addresses: Sequence[str] = [str(target.ip_literal)]
    else:
        try:
            addresses = await resolver(target.host, target.port)
        except (OSError, UnicodeError, TimeoutError):
            raise UnsafeUrl("url_host_unresolvable", "The URL's host does not resolve.") from None
    first = check_addresses(target, addresses, production=production)
    # every one was checked above: the others are fallbacks, as any HTTP client has
    others = dict.fromkeys(str(parse_ip(a.split("%", 1)[0])) for a in addresses)
    others.pop(first, None)
    return Pinned(target, first, tuple(others))


def pinned_url(target: Target, address: str) -> str:
    """The target URL with its host replaced by the checked address."""
    parts = urlsplit(target.url)
    host = f"[{address}]" if ":" in address else address
    return urlunsplit((target.scheme, f"{host}:{target.port}", parts.path or "/", parts.query, ""))
