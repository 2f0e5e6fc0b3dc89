"""Which URLs a fetch may go to: the guard against server-side request forgery.

A URL is refused unless its scheme is http or https and every address its host resolves to
is a public one. Loopback, private (RFC 1918, unique-local), link-local (which holds the
cloud metadata service at 169.254.169.254), shared, multicast, reserved and unspecified
addresses are refused unless an allow-list names them: a host name, an address, or a
network in CIDR form (``10.1.0.0/16``).

Every address a name resolves to is checked, not just the first, so a DNS name with one
public and one private record is refused. The check runs again for every redirect hop, and
the connection itself is pinned to the checked addresses (see ``ingest.fetch``) so a second,
different DNS answer cannot slip through.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["URLPolicy", "UnsafeURL", "check_url"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

# Explicitly named besides the ipaddress flags: the well-known metadata addresses.
_METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


class UnsafeURL(ValueError):
    """A URL that may not be fetched; the message says why."""


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class URLPolicy:
    """``allow``: hosts, addresses or CIDR networks that may be fetched although they are
    not public. ``allow_private=True`` turns the address check off (the CLI's
    ``--allow-private``); the scheme check stays."""

    allow: tuple[str, ...] = ()
    allow_private: bool = False
    resolver: Resolver = field(default=_system_resolver, compare=False)

    @classmethod
    def of(cls, allow: Iterable[str] = (), *, allow_private: bool = False) -> URLPolicy:
        return cls(tuple(a.strip() for a in allow if a.strip()), allow_private)

    def _allowed_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in {a.lower().rstrip(".") for a in self.allow}

    def _allowed_address(self, address: IPAddress) -> bool:
        for entry in self.allow:
            try:
                if address in ipaddress.ip_network(entry.strip("[]"), strict=False):
                    return True
            except ValueError:
                continue
        return False


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _is_public(address.ipv4_mapped)
    return not (
        address in _METADATA
        or address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv4Address) and address in _SHARED)
        or not address.is_global
    )


_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT


def check_url(url: str, policy: URLPolicy) -> list[str]:
    """The addresses ``url`` may be fetched from; raises :class:`UnsafeURL` otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"not a valid URL: {exc}") from None
    if parts.scheme.lower() not in {"http", "https"}:
        raise UnsafeURL(f"only http and https URLs can be fetched, not {parts.scheme or 'none'!r}")
    host = parts.hostname
    if not host:
        raise UnsafeURL("the URL names no host")
    if parts.username or parts.password:
        raise UnsafeURL("URLs with a user name or password are not fetched")
    port = port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = policy.resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise UnsafeURL(f"cannot resolve host {host!r}: {exc}") from None
        if not addresses:
            raise UnsafeURL(f"host {host!r} resolves to no address")
    if policy.allow_private or policy._allowed_host(host):
        return addresses
    for raw in addresses:
        address = ipaddress.ip_address(raw.split("%", 1)[0])
        if not _is_public(address) and not policy._allowed_address(address):
            raise UnsafeURL(
                f"refusing to fetch {host!r}: it resolves to {address}, a loopback, private, "
                "link-local or otherwise non-public address (name it in the allow-list "
                "to permit it)"
            )
    return addresses
