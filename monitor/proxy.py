"""Feeds through an outbound HTTP proxy (HTTPS_PROXY / HTTP_PROXY / NO_PROXY), guard intact.

An office network often reaches the web only through a proxy. The address guard
(`monitor.netguard`) must still judge the *feed's* host, so the proxy is never handed a host
name to resolve on its own: the guard resolves and checks the feed host as for a direct
connection, then asks the proxy for a `CONNECT <checked address>:<port>` tunnel, for http://
feeds as well as https:// ones (a forward-proxied `GET http://name/…` would let the proxy
resolve the name again, to an address nobody checked). TLS then runs inside the tunnel with the
feed's host name for SNI and the certificate check, exactly as without a proxy.

The proxy itself is the operator's choice (often on a private address), so it is not subject to
the guard. Only `http://` proxy URLs are supported; user and password in the URL are sent as
Basic Proxy-Authorization.
"""

from __future__ import annotations

import base64
import ipaddress
import urllib.request
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import httpcore
from httpcore import AsyncNetworkBackend, AsyncNetworkStream

from monitor.errors import ConfigError

MAX_RESPONSE_HEAD = 16 * 1024  # a CONNECT answer is a status line and a few headers


class ProxyError(httpcore.ProxyError):
    """The proxy would not open a tunnel (or answered something that is not HTTP)."""


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    authorization: str | None = None  # the Proxy-Authorization header value, when the URL has a user

    @property
    def shown(self) -> str:
        """For messages: the proxy's address, never its password."""
        return f"{self.host}:{self.port}"


def parse_proxy(url: str, variable: str) -> Proxy:
    """An http:// proxy URL (`http://[user:pass@]host[:port]`), or ConfigError saying why not."""
    raw = url.strip()
    if "://" not in raw:
        raw = "http://" + raw  # curl and pip accept a bare host:port too
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as e:
        raise ConfigError(f"{variable} is not a valid proxy URL: {e}") from None
    if parts.scheme.lower() != "http":
        raise ConfigError(f"{variable}: only http:// proxies are supported, not {parts.scheme}://")
    if not parts.hostname:
        raise ConfigError(f"{variable} has no proxy host")
    authorization = None
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        authorization = "Basic " + base64.b64encode(credentials).decode("ascii")
    return Proxy(parts.hostname, port or 80, authorization)


@dataclass(frozen=True)
class ProxyRules:
    """Which proxy (if any) a feed URL goes through, from the standard variables."""

    https: Proxy | None = None
    http: Proxy | None = None
    no_proxy: str = ""

    @classmethod
    def from_settings(cls, https_proxy: str, http_proxy: str, no_proxy: str) -> ProxyRules:
        return cls(
            parse_proxy(https_proxy, "HTTPS_PROXY") if https_proxy.strip() else None,
            parse_proxy(http_proxy, "HTTP_PROXY") if http_proxy.strip() else None,
            no_proxy.strip(),
        )

    @property
    def any(self) -> bool:
        return self.https is not None or self.http is not None

    def for_scheme(self, scheme: str) -> Proxy | None:
        return self.https if scheme == "https" else self.http

    def bypass(self, host: str) -> bool:
        """True when NO_PROXY names this host (`*`, names, `.domain` or `*.domain` suffixes)."""
        if not self.no_proxy:
            return False
        if self.no_proxy == "*":
            return True
        # "*.corp" is written as often as ".corp"; the standard library knows only the latter.
        entries = ",".join(e.strip()[1:] if e.strip().startswith("*.") else e.strip() for e in self.no_proxy.split(","))
        # proxy_bypass_environment is the standard library's NO_PROXY matcher; typeshed omits it.
        return bool(urllib.request.proxy_bypass_environment(host, {"no": entries}))  # type: ignore[attr-defined]


def _authority(address: str, port: int) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"{address}:{port}"
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


async def open_tunnel(
    inner: AsyncNetworkBackend, proxy: Proxy, address: str, port: int, *, timeout: float | None = None, socket_options=None
) -> AsyncNetworkStream:
    """A TCP stream to `address:port` through the proxy's CONNECT; ProxyError when refused."""
    try:
        stream = await inner.connect_tcp(proxy.host, proxy.port, timeout=timeout, socket_options=socket_options)
    except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as e:
        raise ProxyError(f"cannot connect to the proxy {proxy.shown}: {e or type(e).__name__}") from None
    target = _authority(address, port)
    head = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
    if proxy.authorization:
        head += f"Proxy-Authorization: {proxy.authorization}\r\n"
    try:
        await stream.write((head + "\r\n").encode("ascii"), timeout=timeout)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = await stream.read(4096, timeout=timeout)
            if not chunk:
                raise ProxyError(f"the proxy {proxy.shown} closed the connection instead of answering CONNECT")
            answer += chunk
            if len(answer) > MAX_RESPONSE_HEAD:
                raise ProxyError(f"the proxy {proxy.shown} sent an over-long answer to CONNECT")
        status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ProxyError(f"the proxy {proxy.shown} did not answer in HTTP: {status_line[:80]!r}")
        if not 200 <= int(parts[1]) < 300:
            raise ProxyError(f"the proxy {proxy.shown} refused the tunnel to {target}: {status_line[9:89]}")
        # Bytes after the head belong to the tunnel; a CONNECT answer has none before we speak.
    except BaseException:
        await stream.aclose()
        raise
    return stream
