"""The URL and address guard (only http(s), only public addresses): what is refused at input, and why."""

from __future__ import annotations

import socket

import pytest

from monitor.errors import InputError
from monitor.netguard import is_public_ip, parse_numeric_host, validate_feed_url
from tests.feedserver import FeedServer


@pytest.mark.parametrize("ip", ["8.8.8.8", "1.1.1.1", "151.101.1.69", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"])
def test_public_addresses(ip):
    assert is_public_ip(ip)


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1", "127.255.0.9", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT (shared address space)
        "224.0.0.1", "239.255.255.250", "ff02::1",  # multicast: 224.0.0.1.is_global is True on 3.11
        "0.0.0.0", "::", "255.255.255.255", "240.0.0.1", "192.0.2.1", "198.18.0.1",
        "fc00::1", "fe80::1", "2001:db8::1",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1",  # IPv4-mapped
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "not-an-address", "",
    ],
)
def test_non_public_addresses(ip):
    assert not is_public_ip(ip)


@pytest.mark.parametrize("host", ["127.1", "0x7f.1", "2130706433", "0177.0.0.1", "0x7f000001", "127.0.1"])
def test_numeric_forms_of_loopback_are_decoded_like_the_c_resolver_does(host):
    assert str(parse_numeric_host(host)).startswith("127.")


# only http(s)
@pytest.mark.parametrize(
    "url",
    [
        "/etc/passwd", "feeds/bbc.xml", "file:///etc/passwd", "feed://example.com/rss", "ftp://example.com/rss.xml",
        "javascript:alert(1)", "data:text/xml,<rss/>", "gopher://example.com/", "", "   ",
        "http://", "http:///path", "https://exa mple.com/", "http://example.com/\x00",
        "http://user:secret@example.com/feed", "https://example.com/" + "a" * 2100, "http://example.com:99999/",
    ],
)
def test_refused_at_input(url):
    with pytest.raises(InputError):
        validate_feed_url(url, allow_private=True)


# only public addresses: private ones are refused before any request
PRIVATE_URLS = [
    "http://127.0.0.1/feed", "http://[::1]/feed", "http://127.1/feed", "http://0x7f.1/feed", "http://2130706433/feed",
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.5/rss", "http://100.64.0.1/rss", "http://224.0.0.1/rss",
    "http://[::ffff:127.0.0.1]/rss", "http://localhost:8080/rss", "http://0.0.0.0/rss",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_addresses_refused_unless_allowed(url):
    with pytest.raises(InputError, match="non-public|this machine"):
        validate_feed_url(url, allow_private=False)
    assert validate_feed_url(url, allow_private=True).startswith("http://")


@pytest.mark.parametrize("answers", [["127.0.0.1"], ["93.184.216.34", "10.0.0.1"], ["::1"], ["169.254.169.254"]])
def test_a_name_resolving_to_any_private_address_is_refused(answers):
    with pytest.raises(InputError, match="non-public"):
        validate_feed_url("https://feeds.example.com/rss", allow_private=False, resolver=lambda h, p: answers)


def test_a_name_resolving_to_public_addresses_is_accepted():
    assert validate_feed_url("https://Feeds.Example.COM/rss#top", allow_private=False, resolver=lambda h, p: ["93.184.216.34"]) == "https://feeds.example.com/rss"


def test_a_name_that_does_not_resolve_now_is_accepted_for_later():
    def offline(host, port):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    assert validate_feed_url("https://example.org/feed.xml", allow_private=False, resolver=offline) == "https://example.org/feed.xml"


@pytest.mark.parametrize(
    "url, cleaned",
    [
        ("HTTPS://WWW.Example.ORG/Feed.xml?a=1#frag", "https://www.example.org/Feed.xml?a=1"),
        ("http://example.org", "http://example.org/"),
        ("  https://example.org/rss  ", "https://example.org/rss"),
        ("https://пример.рф/rss", "https://xn--e1afmkfd.xn--p1ai/rss"),
        ("https://example.org:8443/rss", "https://example.org:8443/rss"),
    ],
)
def test_cleaned_url(url, cleaned):
    assert validate_feed_url(url, allow_private=False, resolve=False) == cleaned


def test_cli_refuses_a_loopback_feed_and_the_server_sees_nothing(cli):
    with FeedServer() as srv:
        for host in ("127.0.0.1", "127.1", "2130706433"):
            code, out, err = cli("feeds", "add", srv.url("/gen/1", host=host))
            assert code != 0 and "non-public" in err and "Traceback" not in err
        code, out, err = cli("feeds", "add", "file:///etc/passwd")
        assert code != 0 and "http" in err
        assert srv.seen() == 0
        code, out, err = cli("feeds", "add", srv.url("/gen/1"), "--allow-private-networks")
        assert code == 0, err
