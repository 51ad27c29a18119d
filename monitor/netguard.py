"""The address guard: which URLs we may fetch and which addresses we may connect to (SSRF).

Feed and alert URLs come from strangers. Two checks keep them from reaching the host's own
network:

1. `validate_feed_url` at input time: http/https only, at most 2 048 characters, and every
   address the host resolves to is public (unless private networks are allowed).
2. `GuardedBackend`, used by every fetch: at *connect* time it resolves the host once, checks
   every answer and connects to one of exactly those checked addresses. A DNS answer that changes
   between the check and the connect (rebinding) cannot move the connection, and every redirect
   hop and every new connection goes through the same check. TLS keeps the host name for SNI and
   certificate checks, because httpcore passes the origin's host to `start_tls`, not the address.

Python 3.11 facts this relies on: `224.0.0.1.is_global` is True, so multicast is
checked separately; `127.1`, `0x7f.1` and `2130706433` all mean 127.0.0.1 to the C resolver, so
such hosts are decoded here with the same inet_aton rules before any lookup.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import socket
import typing
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit, urlunsplit

import httpcore
from httpcore import AsyncNetworkBackend, AsyncNetworkStream

from monitor.errors import InputError
from monitor.proxy import open_tunnel

MAX_URL_LENGTH = 2048
ALLOWED_SCHEMES = ("http", "https")
INPUT_DNS_TIMEOUT_S = 3.0  # `feeds add` must answer promptly even when DNS is slow or absent

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# A resolver takes (host, port) and returns IP address strings. Tests pass their own to play a
# DNS server whose answers change; production uses the system resolver.
Resolver = Callable[[str, int], Iterable[str]]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class BlockedAddressError(httpcore.ConnectError):
    """A connection was refused by the guard (the host resolves to a non-public address)."""


class ResolveError(httpcore.ConnectError):
    """The host name could not be resolved. `temporary` distinguishes EAI_AGAIN from NXDOMAIN."""

    def __init__(self, message: str, temporary: bool):
        super().__init__(message)
        self.temporary = temporary


def is_public_ip(ip: str | IPAddress) -> bool:
    """True for globally routable unicast addresses only.

    Loopback, private, link-local (169.254.169.254 cloud metadata), shared 100.64/10, reserved,
    documentation, multicast and unspecified addresses are all non-public. IPv6 forms that embed
    an IPv4 address (mapped, NAT64, 6to4, Teredo) are judged by the embedded address.
    """
    try:
        addr = ipaddress.ip_address(str(ip).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = addr.ipv4_mapped or addr.sixtofour
        if embedded is None and addr in _NAT64:
            embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if embedded is None and addr.teredo is not None:
            embedded = addr.teredo[1]
        if embedded is not None and not is_public_ip(embedded):
            return False
    if addr.is_multicast:  # is_global says True for 224.0.0.1 on Python 3.11
        return False
    return bool(addr.is_global) and not (
        addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_reserved or addr.is_unspecified
    )


def parse_numeric_host(host: str) -> IPAddress | None:
    """The address a numeric host means, with the C library's inet_aton rules for IPv4.

    `127.1`, `0x7f.1`, `0177.0.0.1` and `2130706433` all mean 127.0.0.1; a browser or a
    resolver would connect there, so the guard must see it the same way.
    """
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    try:
        packed = socket.inet_aton(host)
    except (OSError, ValueError):
        return None
    return ipaddress.IPv4Address(packed)


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses the system resolver gives for host (raises socket.gaierror)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in seen:
            seen.append(address)
    return seen


def split_url(url: str) -> tuple[str, str, int, str]:
    """(cleaned url, host, port, scheme) for an http(s) URL, or InputError with the reason."""
    if not isinstance(url, str):
        raise InputError("a feed URL must be text")
    url = url.strip()
    if not url:
        raise InputError("the URL is empty")
    if len(url) > MAX_URL_LENGTH:
        raise InputError(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise InputError("the URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise InputError(f"not a valid URL: {e}") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = f"{scheme}://" if scheme else "a path"
        raise InputError(f"only http:// and https:// feed URLs are accepted, not {shown}")
    host = parts.hostname
    if not host:
        raise InputError("the URL has no host name")
    if parts.username is not None or parts.password is not None:
        raise InputError("URLs with a user name or password are not accepted")
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise InputError(f"not a valid host name: {host!r}") from None
    ascii_host = ascii_host.lower().rstrip(".")
    port = port or (443 if scheme == "https" else 80)
    netloc = f"[{ascii_host}]" if ":" in ascii_host else ascii_host
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    cleaned = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    if len(cleaned) > MAX_URL_LENGTH:
        raise InputError(f"the URL is longer than {MAX_URL_LENGTH} characters")
    return cleaned, ascii_host, port, scheme


def check_addresses(host: str, addresses: Iterable[str]) -> list[str]:
    """The addresses, if every one is public; else BlockedAddressError naming the first bad one."""
    addresses = list(addresses)
    if not addresses:
        raise ResolveError(f"{host} resolved to no address", temporary=True)
    for address in addresses:
        if not is_public_ip(address):
            raise BlockedAddressError(f"{host} resolves to the non-public address {address}")
    return addresses


_input_pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="netguard-dns")


def validate_feed_url(url: str, *, allow_private: bool, resolve: bool = True, resolver: Resolver | None = None) -> str:
    """The cleaned URL (lower-case scheme and host, no fragment), or InputError saying why not.

    With `resolve`, the host is looked up and every address must be public. A host that does not
    resolve *now* is accepted (a laptop offline, a DNS hiccup): the fetch guard checks again at
    every connection, so nothing unchecked is ever contacted. Bulk imports pass resolve=False so
    10 000 OPML entries do not wait on 10 000 lookups.
    """
    cleaned, host, port, _scheme = split_url(url)
    if allow_private:
        return cleaned
    literal = parse_numeric_host(host)
    if literal is not None:
        if not is_public_ip(literal):
            raise InputError(f"{host} is a non-public address ({literal}); use --allow-private-networks for intranet feeds")
        return cleaned
    if host == "localhost" or host.endswith(".localhost"):
        raise InputError(f"{host} is this machine; use --allow-private-networks for intranet feeds")
    if not resolve:
        return cleaned
    future = _input_pool.submit(resolver or system_resolver, host, port)
    try:
        addresses = list(future.result(timeout=INPUT_DNS_TIMEOUT_S))
    except (OSError, UnicodeError, concurrent.futures.TimeoutError):
        return cleaned
    for address in addresses:
        if not is_public_ip(address):
            raise InputError(f"{host} resolves to the non-public address {address}; use --allow-private-networks for intranet feeds")
    return cleaned


class GuardedBackend(AsyncNetworkBackend):
    """httpcore network backend that resolves, checks and connects to the checked address only."""

    def __init__(
        self,
        *,
        allow_private: bool,
        resolver: Resolver | None = None,
        inner: AsyncNetworkBackend | None = None,
        trusted_hosts: Iterable[str] = (),
        proxy=None,
        bypass_proxy: Callable[[str], bool] | None = None,
    ):
        self.allow_private = allow_private
        # monitor.proxy.Proxy: tunnel to the checked address through it (None: connect directly)
        self.proxy = proxy
        self.bypass_proxy = bypass_proxy or (lambda _host: False)
        # Host names an operator trusts to be private (one intranet feed) without opening all.
        self.trusted_hosts = frozenset(h.lower() for h in trusted_hosts)
        self.resolver = resolver or system_resolver
        self.inner = inner or httpcore.AnyIOBackend()

    async def resolve(self, host: str, port: int) -> list[str]:
        literal = parse_numeric_host(host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                addresses = list(await asyncio.get_running_loop().run_in_executor(None, self.resolver, host, port))
            except socket.gaierror as e:
                temporary = e.errno in (socket.EAI_AGAIN, getattr(socket, "EAI_SYSTEM", -11))
                raise ResolveError(f"cannot resolve {host}: {e.strerror or e}", temporary=temporary) from None
            except OSError as e:
                raise ResolveError(f"cannot resolve {host}: {e}", temporary=True) from None
        if self.allow_private or host.lower() in self.trusted_hosts:
            if not addresses:
                raise ResolveError(f"{host} resolved to no address", temporary=True)
            return addresses
        return check_addresses(host, addresses)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> AsyncNetworkStream:
        addresses = await self.resolve(host, port)
        if self.proxy is not None and not self.bypass_proxy(host):
            return await self._through_proxy(addresses, port, timeout, socket_options)
        last: Exception | None = None
        # Try each checked address in turn; never hand the name back to a resolver.
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as e:
                last = e
        assert last is not None
        raise last

    async def _through_proxy(self, addresses: list[str], port: int, timeout, socket_options) -> AsyncNetworkStream:
        """A CONNECT tunnel to one of the checked addresses: the proxy never resolves the name."""
        last: Exception | None = None
        for address in addresses:
            try:
                return await open_tunnel(self.inner, self.proxy, address, port, timeout=timeout, socket_options=socket_options)
            except httpcore.ProxyError as e:
                last = e
        assert last is not None
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options=None) -> AsyncNetworkStream:
        raise BlockedAddressError("unix sockets are never used for feeds")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)
