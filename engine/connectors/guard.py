"""The outbound allow-list: which addresses the HTTP connector may connect to.

Public (globally routable) addresses are allowed. Loopback, private, link-local, shared,
reserved, multicast and unspecified addresses are refused unless the setting
CONNECTOR_HTTP_ALLOW (env FLOWSYNC_CONNECTOR_HTTP_ALLOW) lists them: comma-separated IPs,
CIDRs, host names and `*.domain` wildcards. A listed host name may resolve to any address.
Cloud metadata addresses are refused unless listed as an IP or a CIDR of exactly that address.

The check happens in the transport, on every request (redirects included): the host is
resolved once, every resolved address is checked, and the connection goes to a checked
address with the original Host header and TLS server name. A DNS answer that changes
between the check and the connection (DNS rebinding) therefore cannot reach a refused address.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
import ssl
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_HOST = re.compile(r"^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$")


class AddressRefused(Exception):
    """The allow-list forbids the target; nothing was sent."""


@dataclass(frozen=True)
class Policy:
    hosts: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()

    def host_listed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.hosts or any(host.endswith(suffix) for suffix in self.suffixes)

    def address_allowed(self, address: IPAddress, host_listed: bool = False) -> bool:
        return self.refused_part(address, host_listed) is None

    def refused_part(self, address: IPAddress, host_listed: bool = False) -> IPAddress | None:
        """The (embedded) address that the policy refuses, or None when the address may be reached."""
        for candidate in _embedded(address):
            if candidate in METADATA:
                # Only an entry naming exactly this address opens it; a broad range or a host name does not.
                if not any(n.num_addresses == 1 and candidate in n for n in self.networks):
                    return candidate
            elif not (host_listed or _public(candidate) or any(candidate in n for n in self.networks)):
                return candidate
        return None

    def resolve(self, host: str, port: int) -> str:
        """A checked address to connect to; AddressRefused if any address of the host is refused."""
        listed = self.host_listed(host)
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError) as exc:
                raise httpx.ConnectError(f"cannot resolve host {host!r}: {exc}") from None
            addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos))
        if not addresses:
            raise httpx.ConnectError(f"host {host!r} has no address")
        for address in addresses:
            refused = self.refused_part(address, listed)
            if refused is not None:
                shown = host if refused == addresses[0] and addresses[0] == _literal(host) else f"{host} ({refused})"
                raise AddressRefused(
                    f"outbound HTTP to {shown} is not allowed: {_kind(refused)} addresses are refused unless "
                    "listed in FLOWSYNC_CONNECTOR_HTTP_ALLOW"
                )
        return str(addresses[0])


# IPv6 forms whose last 32 bits are an IPv4 address a translator or tunnel may deliver to:
# NAT64 (RFC 6052 well-known prefix, RFC 8215 local use) and SIIT's IPv4-translated addresses.
# They are judged by that IPv4 alone, like IPv4-mapped ones.
_TRANSLATED = tuple(ipaddress.ip_network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48", "::ffff:0:0:0/96"))
# Deprecated IPv4-compatible addresses (::a.b.c.d): both the IPv6 form and the IPv4 are checked.
_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded(address: IPAddress) -> list[IPAddress]:
    """The addresses to check: an IPv6 address with every IPv4 address it carries.

    IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d, 64:ff9b:1::/48) and IPv4-translated
    (::ffff:0:a.b.c.d) count as their IPv4 only; IPv4-compatible (::a.b.c.d), 6to4 (2002::/16),
    Teredo (2001::/32, server and client) and ISATAP (…:5efe:a.b.c.d) are checked as the IPv6
    address and as each IPv4 they embed.
    """
    if not isinstance(address, ipaddress.IPv6Address):
        return [address]
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]  # ::ffff:a.b.c.d is a.b.c.d
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if any(address in net for net in _TRANSLATED):
        return [low32]
    found: list[IPAddress] = [address]
    if address in _COMPATIBLE:
        found.append(low32)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if (int(address) >> 32) & 0xFDFFFFFF == 0x00005EFE:  # ISATAP interface id 0000:5efe or 0200:5efe
        found.append(low32)
    return found


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _public(address: IPAddress) -> bool:
    return address.is_global and not address.is_multicast


def _kind(address: IPAddress) -> str:
    if address in METADATA:
        return "cloud metadata"
    for attribute in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{attribute}"):
            return attribute.replace("_", "-")
    return "non-public"


@functools.lru_cache(maxsize=16)
def parse_policy(text: str) -> Policy:
    """The setting's text as a Policy; ValueError names the first entry that is neither a host nor a CIDR."""
    hosts: set[str] = set()
    suffixes: list[str] = []
    networks: list[IPNetwork] = []
    for raw in re.split(r"[,\s]+", text or ""):
        entry = raw.strip().lower()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        if not _HOST.match(entry):
            raise ValueError(f"FLOWSYNC_CONNECTOR_HTTP_ALLOW entry {raw!r} is neither a host name nor an IP/CIDR")
        if entry.startswith("*."):
            suffixes.append(entry[1:].rstrip("."))
        else:
            hosts.add(entry.rstrip("."))
    return Policy(frozenset(hosts), tuple(suffixes), tuple(networks))


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The verifying TLS context every connector call shares: building one loads the CA bundle (~20 ms of
    CPU), which per call was the largest cost of an `http` node. An SSLContext is safe to share between
    threads once built; each connection still verifies its own host name (the SNI set per request)."""
    return httpx.create_ssl_context()


class GuardedTransport(httpx.HTTPTransport):
    """An httpx transport that connects only to addresses the policy allows, pinned after the check."""

    def __init__(self, policy: Policy, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("verify", tls_context())
        super().__init__(**kwargs)
        self.policy = policy

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            address = self.policy.resolve(host, port)
        except httpx.ConnectError as exc:
            raise httpx.ConnectError(str(exc), request=request) from None
        extensions = dict(request.extensions)
        if url.scheme == "https":
            extensions["sni_hostname"] = host  # TLS still verifies the certificate of the host name
        # Headers (with the original Host) and the body stream are passed on unchanged.
        pinned = httpx.Request(
            request.method, url.copy_with(host=address), headers=request.headers, stream=request.stream,
            extensions=extensions,
        )
        return super().handle_request(pinned)
