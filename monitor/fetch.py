"""Fetching one feed over HTTP with the limits a stranger's server needs (hardening 1-13).

- Every connection goes through `netguard.GuardedBackend` (public addresses only, connect to the
  checked address only), and redirects are followed by hand, at most `max_redirects` hops, each
  hop's URL re-validated; redirect loops are caught.
- One total deadline per fetch (`asyncio.timeout`): httpx's read timeout is per chunk, so a
  server dripping a byte every 0.25 s would otherwise hold a worker for ever.
- The body is decoded here, chunk by chunk with a bounded `zlib` output size, so a 65 KB gzip
  bomb stops at the cap (~15 MiB) instead of inflating to 67 MB in one chunk. A body that ends
  early (truncated gzip, Content-Length larger than what came) is a failure, never a feed state.
- Conditional GET (ETag / Last-Modified) plus a SHA-256 of the body, so an unchanged feed is not
  parsed again even when the server ignores validators.
- TLS verification is never switched off; TLS failures are reported as such.

Each failure maps to a fixed, low-cardinality `Reason`, which carries its kind (SOFT / HARD /
TEMP, `monitor.outcomes`), as Media Cloud's rss-fetcher does, with a human `detail` beside it.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import logging
import re
import ssl
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

import httpcore
import httpx

from monitor.config import Settings, settings as current_settings
from monitor.errors import InputError
from monitor.netguard import BlockedAddressError, GuardedBackend, ResolveError, Resolver, split_url
from monitor.outcomes import FetchOutcome, Reason
from monitor.proxy import ProxyRules

log = logging.getLogger(__name__)

MAX_RETRY_AFTER_S = 86400.0  # a server may ask us to wait; never longer than a day
READ_CHUNK = 64 * 1024

@dataclass(frozen=True)
class FetchResult:
    """What one fetch brought: a body to ingest, a 'nothing new', or a classified failure."""

    url: str  # the URL asked for
    final_url: str  # after redirects
    outcome: FetchOutcome
    status: int | None = None
    reason: Reason | None = None  # when the fetch failed
    detail: str | None = None
    body: bytes | None = None  # only when outcome == "ok"
    body_hash: str | None = None
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    retry_after_s: float | None = None  # from Retry-After, capped at a day
    cache_hint_s: int | None = None  # from Cache-Control max-age / Expires
    permanent_redirect: str | None = None  # set when every hop was 301/308 and the end was good
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.outcome.succeeded


class _Fail(Exception):
    def __init__(self, reason: Reason, detail: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.status = status
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or HTTP date); None for garbage."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(int(value[:12]))
    else:
        when = _http_date(value)
        if when is None:
            return None
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _http_date(value: str) -> datetime | None:
    """An HTTP date as an aware datetime; None for garbage."""
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when


_MAX_AGE = re.compile(r"(?:^|[,\s])(?:s-maxage|max-age)\s*=\s*\"?(\d{1,10})", re.I)


def cache_hint_seconds(headers: httpx.Headers, now: datetime | None = None) -> int | None:
    """How long the server says the response stays fresh (Cache-Control max-age, else Expires)."""
    cc = headers.get("cache-control", "")
    if "no-cache" in cc.lower() or "no-store" in cc.lower():
        return 0
    m = _MAX_AGE.search(cc)
    if m:
        return int(m.group(1))
    expires = headers.get("expires")
    when = _http_date(expires) if expires else None
    if when is not None:
        return max(0, int((when - (now or datetime.now(timezone.utc))).total_seconds()))
    return None


def sniff_not_a_feed(body: bytes) -> str | None:
    """A reason when the bytes are plainly not a feed (an HTML page, JSON); None to let the parser try."""
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return "an HTML page, not a feed (a login, consent or bot-challenge page?)"
    if head.startswith((b"{", b"[")):
        return "JSON, not an RSS or Atom feed"
    return None


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with the address guard as its network backend."""

    def __init__(
        self,
        *,
        allow_private: bool,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | str | bool = True,
        limits: httpx.Limits | None = None,
        trusted_hosts: tuple[str, ...] = (),
        proxy=None,
        bypass_proxy=None,
    ):
        if verify is False:
            raise ValueError("TLS verification is never switched off")
        super().__init__(verify=verify, trust_env=False, limits=limits or httpx.Limits(max_connections=100, max_keepalive_connections=20))
        pool = self._pool
        if not hasattr(pool, "_network_backend"):  # pragma: no cover - guards an httpcore upgrade
            raise RuntimeError("httpcore changed: the address guard cannot be installed")
        pool._network_backend = GuardedBackend(
            allow_private=allow_private, resolver=resolver, trusted_hosts=trusted_hosts, proxy=proxy, bypass_proxy=bypass_proxy
        )


class _Decoder:
    """Content-Encoding decoding with a bounded output per step (gzip bombs stop at the cap)."""

    def __init__(self, encoding: str, cap: int):
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self.mode = "identity"
        elif encoding in ("gzip", "x-gzip", "deflate"):
            self.mode = encoding
        else:
            raise _Fail(Reason.BAD_ENCODING, f"unsupported Content-Encoding {encoding[:40]!r}")
        self.cap = cap
        self.out = bytearray()
        self._d = self._new() if self.mode != "identity" else None
        self._fed_any = False

    def _new(self, raw_deflate: bool = False):
        if raw_deflate:
            return zlib.decompressobj(-zlib.MAX_WBITS)
        return zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected

    def _check(self) -> None:
        if len(self.out) > self.cap:
            raise _Fail(Reason.TOO_LARGE, f"the feed is larger than {self.cap // (1024 * 1024) or self.cap} {'MiB' if self.cap >= 1024 * 1024 else 'bytes'} once decoded")

    def feed(self, raw: bytes) -> None:
        if self._d is None:
            self.out += raw
            self._check()
            return
        data = raw
        while data:
            try:
                chunk = self._d.decompress(data, self.cap + 1 - len(self.out))
            except zlib.error as e:
                if self.mode == "deflate" and not self._fed_any:
                    self._d = self._new(raw_deflate=True)  # "deflate" sent without a zlib header
                    self._fed_any = True
                    continue
                raise _Fail(Reason.BAD_ENCODING, f"the compressed body is corrupt ({e})") from None
            self._fed_any = True
            self.out += chunk
            self._check()
            if self._d.eof:
                rest = self._d.unused_data
                if rest.strip(b"\0"):
                    self._d = self._new()  # a further gzip member
                    data = rest
                    continue
                return
            data = self._d.unconsumed_tail

    def finish(self) -> bytes:
        if self._d is not None and not self._d.eof:
            if self.mode == "deflate" and self.out:
                self.out += self._d.flush()
            else:
                raise _Fail(Reason.TRUNCATED, "the compressed body ended early (truncated); nothing of it was used")
        return bytes(self.out)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _said(exc: BaseException) -> str:
    """What an exception says: httpx's own are often empty after a reset, while the OSError
    under them says "[Errno 104] Connection reset by peer"; else the kind of error."""
    for e in _chain(exc):
        text = str(e).strip()
        if text:
            return text
    deepest = list(_chain(exc))[-1]
    said: dict[type[BaseException], str] = {ConnectionResetError: "connection reset by the server", BrokenPipeError: "connection closed by the server"}
    return said.get(type(deepest), type(deepest).__name__)


def classify_exception(exc: BaseException) -> tuple[Reason, str]:
    """(reason, detail) for an exception raised while fetching."""
    for e in _chain(exc):
        if isinstance(e, BlockedAddressError):
            return Reason.BLOCKED_ADDRESS, f"refused: {e} (private networks are not allowed)"
        if isinstance(e, ResolveError):
            return (Reason.DNS_TEMPORARY if e.temporary else Reason.DNS_UNKNOWN_HOST), str(e)
        if isinstance(e, ssl.SSLCertVerificationError):
            return Reason.TLS, f"TLS certificate not trusted: {e.verify_message or e.reason or e}"
        if isinstance(e, ssl.SSLError):
            return Reason.TLS, f"TLS handshake failed: {e.reason or e}"
    for e in _chain(exc):
        if getattr(e, "error_status_hint", None) == 431:  # h11 under httpx: the headers outgrew its buffer
            return Reason.HEADER_TOO_LARGE, "the response headers are too large (over 16 KiB); nothing of the response was used"
        if isinstance(e, (httpx.ProxyError, httpcore.ProxyError)):
            return Reason.PROXY_ERROR, f"proxy: {e}"[:300]
    for e in _chain(exc):
        if isinstance(e, (httpx.TimeoutException, TimeoutError)):
            return Reason.TIMEOUT, f"timed out ({type(e).__name__})"
        if isinstance(e, httpx.ConnectError):
            return Reason.CONNECT_FAILED, f"cannot connect: {_said(e)}"[:300]
        if isinstance(e, httpx.RemoteProtocolError):
            return Reason.TRUNCATED, f"the server broke off the response: {_said(e)}"[:300]
        if isinstance(e, (httpx.ReadError, httpx.WriteError, httpx.NetworkError)):
            return Reason.NETWORK_ERROR, f"network error: {_said(e)}"[:300]
        if isinstance(e, httpx.DecodingError):
            return Reason.BAD_ENCODING, f"cannot decode the body: {_said(e)}"[:300]
        if isinstance(e, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
            return Reason.BAD_URL, f"invalid URL: {_said(e)}"[:300]
    return Reason.NETWORK_ERROR, f"{type(exc).__name__}: {_said(exc)}"[:300]


def _status_failure(status: int, headers: httpx.Headers) -> _Fail:
    retry = parse_retry_after(headers.get("retry-after")) if status in (429, 503) else None
    if status == 410:
        return _Fail(Reason.GONE, "410 Gone: the server says this feed was removed for good", status)
    if status == 404:
        return _Fail(Reason.NOT_FOUND, "404 Not Found", status)
    if status in (401, 403):
        return _Fail(Reason.FORBIDDEN, f"{status} {'Unauthorized' if status == 401 else 'Forbidden'}: the server refuses us", status)
    if status == 429:
        return _Fail(Reason.RATE_LIMITED, "429 Too Many Requests", status, retry)
    if status == 503:
        return _Fail(Reason.UNAVAILABLE, "503 Service Unavailable", status, retry)
    if status >= 500:
        return _Fail(Reason.SERVER_ERROR, f"{status} server error", status)
    return _Fail(Reason.HTTP_ERROR, f"unexpected HTTP status {status}", status)


class Fetcher:
    """One HTTP client (connection pool, guard, limits) shared by all fetches of a poll round."""

    def __init__(
        self,
        *,
        allow_private: bool | None = None,
        settings: Settings | None = None,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | str | bool = True,
        timeout_s: float | None = None,
        max_body_bytes: int | None = None,
        max_redirects: int | None = None,
        max_connections: int = 100,
        trusted_hosts: tuple[str, ...] = (),
    ):
        s = settings or current_settings()
        self.allow_private = s.allow_private_networks if allow_private is None else allow_private
        self.timeout_s = timeout_s if timeout_s is not None else s.fetch_timeout_s
        self.max_body = max_body_bytes if max_body_bytes is not None else s.max_body_bytes
        self.max_redirects = max_redirects if max_redirects is not None else s.max_redirects
        self.user_agent = s.user_agent
        proxies = ProxyRules.from_settings(s.https_proxy, s.http_proxy, s.no_proxy)

        def transport(proxy=None) -> GuardedTransport:
            return GuardedTransport(
                allow_private=self.allow_private,
                resolver=resolver,
                verify=verify,
                limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
                trusted_hosts=trusted_hosts,
                proxy=proxy,
                bypass_proxy=proxies.bypass,
            )

        # With a proxy, one transport per scheme (each guarded, each with its own proxy): the
        # network backend only sees host and port, not whether the URL was http or https.
        routes = {"transport": transport()} if not proxies.any else {"mounts": {"http://": transport(proxies.http), "https://": transport(proxies.https)}}
        self.client = httpx.AsyncClient(
            **routes,
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(self.timeout_s, connect=min(10.0, self.timeout_s)),
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None, previous_hash: str | None = None) -> FetchResult:
        """Fetch url; never raises for network or HTTP trouble (that is in the result)."""
        started = time.monotonic()
        state = {"final": url}
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await self._fetch(url, etag, last_modified, previous_hash, state)
        except _Fail as f:
            result = self._failed(url, state["final"], f.reason, f.detail, f.status, f.retry_after)
        except TimeoutError:
            result = self._failed(url, state["final"], Reason.TIMEOUT, f"no complete answer within {self.timeout_s:g} s (total deadline)")
        except (httpx.HTTPError, OSError, ssl.SSLError) as e:
            reason, detail = classify_exception(e)
            result = self._failed(url, state["final"], reason, detail)
        except Exception as e:  # noqa: BLE001 - a library surprise on one feed must not stop a round
            log.exception("unexpected error fetching %s", url)
            result = self._failed(url, state["final"], Reason.NETWORK_ERROR, f"{type(e).__name__}: {e}"[:300])
        return _with_duration(result, started)

    def _failed(self, url, final, reason: Reason, detail, status=None, retry_after=None) -> FetchResult:
        return FetchResult(
            url=url, final_url=final, outcome=reason.kind, status=status, reason=reason, detail=detail, retry_after_s=retry_after
        )

    async def _fetch(self, url, etag, last_modified, previous_hash, state) -> FetchResult:
        current = url
        seen = {url}
        all_permanent = True
        hops = 0
        while True:
            try:
                current, _host, _port, _scheme = split_url(current)
            except InputError as e:
                raise _Fail(Reason.BAD_REDIRECT if hops else Reason.BAD_URL, f"{'redirect to ' if hops else ''}{e}") from None
            state["final"] = current
            headers = {
                "User-Agent": self.user_agent,
                "Accept": "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
                "Accept-Encoding": "gzip, deflate",
            }
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            response = await self.client.send(self.client.build_request("GET", current, headers=headers), stream=True)
            try:
                status = response.status_code
                if status in (301, 302, 303, 307, 308):
                    location = response.headers.get("location")
                    if not location:
                        raise _Fail(Reason.BAD_REDIRECT, f"{status} redirect without a Location", status)
                    try:
                        target = str(response.url.join(location.strip())).split("#", 1)[0]
                    except (httpx.InvalidURL, ValueError):
                        raise _Fail(Reason.BAD_REDIRECT, f"{status} redirect to an invalid URL", status) from None
                    if not target.lower().startswith(("http://", "https://")):
                        scheme = target.split(":", 1)[0][:20]
                        raise _Fail(Reason.BAD_REDIRECT, f"{status} redirect to {scheme}:// refused (only http and https)", status)
                    hops += 1
                    if status not in (301, 308):
                        all_permanent = False
                    if target in seen:
                        raise _Fail(Reason.REDIRECT_LOOP, f"redirect loop at hop {hops} ({target[:200]})", status)
                    if hops > self.max_redirects:
                        raise _Fail(Reason.TOO_MANY_REDIRECTS, f"more than {self.max_redirects} redirects", status)
                    seen.add(target)
                    current = target
                    continue
                if status == 304:
                    return FetchResult(
                        url=url,
                        final_url=current,
                        outcome=FetchOutcome.NOT_MODIFIED,
                        status=304,
                        etag=response.headers.get("etag") or etag,
                        last_modified=response.headers.get("last-modified") or last_modified,
                        body_hash=previous_hash,
                        cache_hint_s=cache_hint_seconds(response.headers),
                        permanent_redirect=current if hops and all_permanent else None,
                    )
                if not 200 <= status < 300:
                    raise _status_failure(status, response.headers)
                decoder = _Decoder(response.headers.get("content-encoding", ""), self.max_body)
                try:
                    async for raw in response.aiter_raw(READ_CHUNK):
                        decoder.feed(raw)
                except httpx.RemoteProtocolError as e:
                    raise _Fail(Reason.TRUNCATED, f"the body ended before its stated length; nothing of it was used ({e})"[:300], status) from None
                body = decoder.finish()
                if not body.strip():
                    raise _Fail(Reason.EMPTY, f"{status} with an empty body", status)
                digest = hashlib.sha256(body).hexdigest()
                unchanged = previous_hash is not None and digest == previous_hash
                return FetchResult(
                    url=url,
                    final_url=current,
                    outcome=FetchOutcome.UNCHANGED if unchanged else FetchOutcome.OK,
                    status=status,
                    body=None if unchanged else body,
                    body_hash=digest,
                    content_type=response.headers.get("content-type"),
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                    cache_hint_s=cache_hint_seconds(response.headers),
                    permanent_redirect=current if hops and all_permanent else None,
                )
            finally:
                if not response.is_stream_consumed:
                    await _drain(response)
                await response.aclose()


DRAIN_LIMIT = 64 * 1024


async def _drain(response: httpx.Response) -> None:
    """Read what is left of a small body (304, redirect, error page) so the connection goes back
    to the pool: closing a half-read response closes its connection, and a re-poll of unchanged
    feeds would then open a new one per request. Past DRAIN_LIMIT the connection is dropped."""
    got = 0
    try:
        async for raw in response.aiter_raw(READ_CHUNK):
            got += len(raw)
            if got > DRAIN_LIMIT:
                return
    except (httpx.HTTPError, OSError):
        return


def _with_duration(result: FetchResult, started: float) -> FetchResult:
    from dataclasses import replace

    return replace(result, duration_ms=int((time.monotonic() - started) * 1000))


async def fetch_url(url: str, **kwargs) -> FetchResult:
    """One-off fetch (tests, the Feeds page's 'check' button): opens and closes a Fetcher."""
    fetch_kwargs = {k: kwargs.pop(k) for k in ("etag", "last_modified", "previous_hash") if k in kwargs}
    async with Fetcher(**kwargs) as fetcher:
        return await fetcher.fetch(url, **fetch_kwargs)
