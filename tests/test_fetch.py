"""Fetching against a real loopback server: each fault a server can serve (bad redirects,
error statuses, Retry-After, conditional GET, stalls, huge or lying bodies, TLS) -> its behaviour."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import ssl
from pathlib import Path

import pytest

from monitor.fetch import Fetcher, parse_retry_after, sniff_not_a_feed
from tests.feedserver import FeedServer

REAL = "bbc-news-home__bbc.xml"


@pytest.fixture(scope="module")
def server():
    with FeedServer() as srv:
        yield srv


def fetch(url: str, **kw):
    fetch_kw = {k: kw.pop(k) for k in ("etag", "last_modified", "previous_hash") if k in kw}
    kw.setdefault("allow_private", True)

    async def run():
        async with Fetcher(**kw) as f:
            return await f.fetch(url, **fetch_kw)

    return asyncio.run(run())


def test_real_feed_is_fetched_whole(server, shared_data):
    r = fetch(server.url(f"/real/{REAL}"))
    assert r.outcome == "ok" and r.status == 200
    assert r.body == (shared_data / "feeds" / "real" / REAL).read_bytes()
    assert r.etag and r.last_modified and len(r.body_hash) == 64


def test_user_agent_is_descriptive(server):
    before = len(server.requests)
    fetch(server.url("/gen/1"))
    assert "policing-press-monitor" in server.requests[before].headers["User-Agent"]


# nothing parsed again: conditional GET and an identical body without validators
def test_304_to_a_conditional_request_is_success_without_a_body(server, shared_data):
    first = fetch(server.url(f"/real/{REAL}"))
    again = fetch(server.url(f"/real/{REAL}"), etag=first.etag, last_modified=first.last_modified, previous_hash=first.body_hash)
    assert again.outcome == "not_modified" and again.ok and again.body is None
    assert again.etag == first.etag


def test_identical_body_without_validators_is_unchanged(server, shared_data):
    first = fetch(server.url(f"/plain/{REAL}"))
    assert first.outcome == "ok" and first.etag is None
    again = fetch(server.url(f"/plain/{REAL}"), previous_hash=first.body_hash)
    assert again.outcome == "unchanged" and again.ok and again.body is None


# an error status is a soft failure with its kind and reason
@pytest.mark.parametrize(
    "path, outcome, reason",
    [
        ("/status/404", "SOFT", "not_found"),
        ("/status/500", "SOFT", "server_error"),
        ("/status/502", "SOFT", "server_error"),
        ("/status/504", "SOFT", "server_error"),
        ("/status/410", "HARD", "gone"),
        ("/status/401", "SOFT", "forbidden"),
        ("/status/403", "SOFT", "forbidden"),
        ("/status/429", "TEMP", "rate_limited"),
        ("/status/503", "TEMP", "unavailable"),
        ("/empty", "SOFT", "empty"),
    ],
)
def test_http_failures_are_classified(server, path, outcome, reason):
    r = fetch(server.url(path))
    assert (r.outcome, r.reason) == (outcome, reason)
    assert r.body is None and r.detail


@pytest.mark.parametrize("path, words", [("/html", "HTML"), ("/json", "JSON")])
def test_html_and_json_bodies_are_recognised_as_not_feeds(server, path, words):
    r = fetch(server.url(path))
    assert r.outcome == "ok"  # the fetch worked; the poller refuses the bytes before parsing
    assert words in sniff_not_a_feed(r.body)


def test_a_feed_is_not_mistaken_for_html(shared_data):
    assert sniff_not_a_feed((shared_data / "feeds" / "real" / REAL).read_bytes()) is None


# Retry-After is honoured, capped at a day, garbage ignored: in seconds, as an HTTP date, garbage, one year
def _http_date(seconds_from_now: int) -> str:
    return email.utils.format_datetime(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds_from_now), usegmt=True)


@pytest.mark.parametrize(
    "value, low, high",
    [("120", 120, 120), ("soon-ish", None, None), ("31536000", 86400, 86400), ("-5", None, None), ("", None, None)],
)
def test_retry_after_seconds_and_garbage(server, value, low, high):
    r = fetch(server.url(f"/status/429?retry-after={value}"))
    assert r.outcome == "TEMP"
    if low is None:
        assert r.retry_after_s is None
    else:
        assert low <= r.retry_after_s <= high


@pytest.mark.parametrize("seconds, expected", [(3600, 3600), (365 * 86400, 86400)])
def test_retry_after_as_http_date_is_capped_at_a_day(seconds, expected):
    assert parse_retry_after(_http_date(seconds)) == pytest.approx(expected, abs=5)


def test_retry_after_from_a_503(server):
    r = fetch(server.url("/status/503?retry-after=600"))
    assert r.retry_after_s == 600


# redirects: at most ~5 hops, never to a private address or file://
def test_a_redirect_is_followed_and_reported_permanent_only_when_every_hop_is(server):
    target = server.url("/gen/3")
    r = fetch(server.url(f"/redirect/301?to={target}"))
    assert r.outcome == "ok" and r.final_url == target and r.permanent_redirect == target
    r = fetch(server.url(f"/redirect/308?to={target}"))
    assert r.permanent_redirect == target
    for code in (302, 307):
        r = fetch(server.url(f"/redirect/{code}?to={target}"))
        assert r.outcome == "ok" and r.permanent_redirect is None


@pytest.mark.parametrize(
    "path, reason",
    [
        ("/loop", "redirect_loop"),
        ("/chain/30", "too_many_redirects"),
        ("/redirect/302?to=file:///etc/passwd", "bad_redirect"),
        ("/redirect/301?to=ftp://example.org/feed", "bad_redirect"),
    ],
)
def test_bad_redirects_stop_at_that_hop(server, path, reason):
    before = server.seen()
    r = fetch(server.url(path))
    assert r.reason == reason and not r.ok
    assert server.seen() - before <= 6  # at most ~5 hops were followed


def test_five_redirects_are_fine(server):
    assert fetch(server.url("/chain/5")).outcome == "ok"


def test_redirect_hop_to_a_private_address_is_stopped_at_that_hop(server):
    """feeds.test is trusted (say, one intranet host); its redirect to loopback is not."""
    target = server.url("/gen/5")
    server.set("/to-private", b"", status=301, headers={"Location": target})
    before = server.seen("/gen/5")
    r = fetch(
        f"http://feeds.test:{server.port}/to-private",
        allow_private=False,
        trusted_hosts=("feeds.test",),
        resolver=lambda h, p: ["127.0.0.1"],
    )
    assert (r.outcome, r.reason) == ("HARD", "blocked_address")
    assert "127.0.0.1" in r.detail
    assert server.seen("/to-private") == 1 and server.seen("/gen/5") == before


@pytest.mark.parametrize("url_path", ["/gen/6"])
def test_private_address_is_refused_before_any_request(server, url_path):
    before = server.seen(url_path)
    r = fetch(server.url(url_path), allow_private=False)
    assert (r.outcome, r.reason) == ("HARD", "blocked_address")
    assert server.seen(url_path) == before


# DNS rebinding: connect only to the address that was checked
def test_dns_answer_changing_after_the_check_cannot_move_the_connection(server):
    """The resolver answers a public address once, then loopback: the guard resolves once per
    connection and connects to what it checked, so loopback never sees the request."""
    calls = []

    def rebinding(host, port):
        calls.append(host)
        return ["8.8.8.8"] if len(calls) == 1 else ["127.0.0.1"]

    before = server.seen("/gen/7")
    r = fetch(f"http://rebind.test:{server.port}/gen/7", allow_private=False, resolver=rebinding, timeout_s=2)
    assert not r.ok  # 8.8.8.8 is unreachable from the test machine: fails closed
    assert server.seen("/gen/7") == before
    assert len(calls) == 1


# unreachable servers are soft failures: connection refused, unknown host
def test_connection_refused_is_a_soft_failure():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = fetch(f"http://127.0.0.1:{port}/feed")
    assert (r.outcome, r.reason) == ("SOFT", "connect_failed")


def test_unknown_host_is_a_soft_failure():
    def resolver(host, port):
        import socket

        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    r = fetch("http://no-such-host.invalid/feed", resolver=resolver)
    assert (r.outcome, r.reason) == ("SOFT", "dns_unknown_host")


# a total deadline, not per chunk: a server that never answers, a drip
@pytest.mark.parametrize("path", ["/hang", "/drip"])
def test_total_deadline_not_per_chunk(server, path):
    r = fetch(server.url(path), timeout_s=1.5)
    assert (r.outcome, r.reason) == ("SOFT", "timeout")
    assert r.duration_ms < 5000


# the decoded-size cap, memory flat: endless body, gzip bomb, truncated gzip, Content-Length lies
@pytest.mark.parametrize(
    "path, reason, cap",
    [
        ("/endless", "too_large", 2 * 1024 * 1024),
        ("/gzip-bomb", "too_large", None),  # the real 15 MiB cap; 67 MB never materialise
        ("/gzip-truncated", "truncated", None),
        ("/length-lie", "truncated", None),
    ],
)
def test_oversized_and_broken_bodies_are_refused_whole(server, path, reason, cap):
    kwargs = {"max_body_bytes": cap} if cap else {}
    r = fetch(server.url(path), timeout_s=10, **kwargs)
    assert (r.outcome, r.reason) == ("SOFT", reason)
    assert r.body is None


def test_gzip_encoded_feed_is_decoded(server):
    import gzip

    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>z</title></channel></rss>'
    server.set("/gz", gzip.compress(body), headers={"Content-Encoding": "gzip"})
    r = fetch(server.url("/gz"))
    assert r.outcome == "ok" and r.body == body


# TLS errors are soft failures naming TLS; verification is never switched off
def _certificate(tmp: Path, name: str, *, expired: bool = False) -> tuple[Path, Path]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    start, end = (now - dt.timedelta(days=30), now - dt.timedelta(days=1)) if expired else (now - dt.timedelta(days=1), now + dt.timedelta(days=1))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / f"{name}.pem", tmp / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


def _tls_server(cert: Path, key: Path) -> FeedServer:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return FeedServer(ssl_context=ctx).start()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    pytest.importorskip("cryptography")
    tmp = tmp_path_factory.mktemp("tls")
    return {"good": _certificate(tmp, "good"), "expired": _certificate(tmp, "expired", expired=True)}


def test_tls_with_a_trusted_certificate_works_and_checks_the_host_name(certs):
    cert, key = certs["good"]
    srv = _tls_server(cert, key)
    try:
        trust = ssl.create_default_context(cafile=str(cert))
        # the guard connects to the resolved address, yet the certificate is checked for "localhost"
        r = fetch(f"https://localhost:{srv.port}/gen/1", verify=trust, resolver=lambda h, p: ["127.0.0.1"])
        assert r.outcome == "ok"
    finally:
        srv.stop()


@pytest.mark.parametrize("which", ["good", "expired"])
def test_tls_errors_are_soft_failures_naming_tls(certs, which):
    cert, key = certs[which]
    srv = _tls_server(cert, key)
    try:
        # "good" is self-signed and not trusted by the default store; "expired" is trusted but expired
        verify = ssl.create_default_context(cafile=str(cert)) if which == "expired" else True
        r = fetch(f"https://localhost:{srv.port}/gen/1", verify=verify, resolver=lambda h, p: ["127.0.0.1"])
        assert (r.outcome, r.reason) == ("SOFT", "tls")
        assert "TLS" in r.detail
    finally:
        srv.stop()


def test_https_to_a_plain_http_port_names_tls(server):
    r = fetch(f"https://127.0.0.1:{server.port}/gen/1")
    assert (r.outcome, r.reason) == ("SOFT", "tls")


def test_verification_can_never_be_switched_off():
    with pytest.raises(ValueError):
        Fetcher(allow_private=True, verify=False)


def test_a_connection_reset_has_a_detail_that_says_something():
    """A server that accepts, reads the request and resets the connection (RST): the failure's
    detail names what happened, not an empty "network error: "."""
    import socket
    import struct
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]

    def reset_each() -> None:
        for _ in range(4):
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    t = threading.Thread(target=reset_each, daemon=True)
    t.start()
    try:
        r = fetch(f"http://127.0.0.1:{port}/feed")
    finally:
        listener.close()
    assert r.outcome == "SOFT" and r.reason in {"network_error", "truncated", "connect_failed"}
    head, _, said = (r.detail or "").partition(": ")
    assert said.strip(), r.detail  # e.g. "network error: [Errno 104] Connection reset by peer"


def test_a_huge_response_header_is_named_as_such_not_as_a_truncated_body(server):
    """A 1 MB header line: the failure says the headers were too large, not that the body broke off."""

    def huge_header(request) -> None:
        request.send_response(200)
        request.send_header("X-Padding", "a" * (1024 * 1024))
        request.send_header("Content-Length", "2")
        request.end_headers()
        request.wfile.write(b"hi")

    server.handle("/huge-header", huge_header)
    r = fetch(server.url("/huge-header"))
    assert (r.outcome, r.reason) == ("SOFT", "header_too_large")
    assert "headers are too large" in r.detail
    assert r.body is None
