"""Normalisation: what a hostile or sloppy feed field turns into before it is stored:
control characters stripped, dates in UTC and clamped, long text truncated, only http(s) links,
HTML sanitised."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from monitor.models import Entry
from monitor.normalize import (
    Limits,
    Rejected,
    clean_html,
    detect_language,
    normalize_date,
    normalize_entry,
    plain_text,
    repair_mojibake,
    safe_link,
    title_hash,
    url_key,
)

FETCHED = datetime(2024, 5, 20, 12, 0, 0)


def entry(**kw) -> Entry:
    base = dict(guid=None, link="https://example.org/a", title="A title", summary=None, content=None, published=None)
    base.update(kw)
    return Entry(**base)


# 18: NUL and control characters -----------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Police\x00 raid", "Police raid"),
        ("Tab\tand\nnewline", "Tab and newline"),
        ("Bell\x07 and escape\x1b[31m", "Bell and escape[31m"),
        ("DEL\x7f and C1\x85", "DEL and C1…"),  # a stray cp1252 byte means its character
        ("lone \ud800 surrogate", "lone surrogate"),
        ("zero\u200bwidth and \ufeffBOM", "zerowidth and BOM"),
    ],
)
def test_control_characters_are_stripped(raw, expected):
    article = normalize_entry(entry(title=raw, summary=raw), fetched_at=FETCHED)
    assert article.title == expected
    assert article.summary == expected
    assert "\x00" not in article.content


# 19: dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "published, expected",
    [
        (None, FETCHED),  # missing or unparseable: the parser gave nothing
        (datetime(1970, 1, 1, tzinfo=timezone.utc), FETCHED),  # the epoch is a bogus date
        (datetime(2099, 1, 1, tzinfo=timezone.utc), FETCHED),  # future: clamped
        (datetime(2024, 5, 20, 14, 0, tzinfo=timezone(timedelta(hours=2))), datetime(2024, 5, 20, 12, 0)),
        (datetime(2024, 5, 19, 23, 30, tzinfo=timezone(timedelta(hours=-5))), datetime(2024, 5, 20, 4, 30)),
        (datetime(2024, 5, 1, 8, 0), datetime(2024, 5, 1, 8, 0)),  # no time zone: taken as UTC
    ],
)
def test_dates_become_naive_utc_with_fallback_and_clamp(published, expected):
    got = normalize_date(published, FETCHED)
    assert got == expected
    assert got.tzinfo is None


# 21: oversized fields ----------------------------------------------------------------------


def test_huge_title_and_content_are_truncated():
    limits = Limits(max_title_chars=1000, max_content_chars=200_000)
    article = normalize_entry(
        entry(title="word " * 200_000, content="<p>" + "x" * 10_000_000 + "</p>", summary=None), fetched_at=FETCHED, limits=limits
    )
    assert len(article.title) <= 1000
    assert article.title.endswith("…")
    assert len(article.content) <= 200_000
    assert len(article.summary) <= limits.max_summary_chars


# 22: links ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "jav\tascript:alert(1)",
        " javascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox",
        "file:///etc/passwd",
        "ftp://example.org/x",
        "//example.org/no-scheme",
        "/relative/path",
        "http:///no-host",
        "https://" + "a" * 3000 + ".org/",
    ],
)
def test_only_http_and_https_links_survive(link):
    assert safe_link(link) is None
    article = normalize_entry(entry(link=link, title="Still an article"), fetched_at=FETCHED)
    assert article.link is None
    assert article.url_key is None


def test_javascript_link_in_content_is_removed():
    html = '<a href="javascript:alert(1)">x</a><a href="jav&#x09;ascript:alert(1)">y</a><a href="data:text/html,x">z</a>'
    cleaned = clean_html(html, 10_000)
    assert "javascript" not in cleaned.lower() and "data:" not in cleaned


@pytest.mark.parametrize("link", ["https://example.org/a", "HTTP://Example.org/a?b=1"])
def test_http_links_are_kept(link):
    assert safe_link(link) is not None


# 23: titles are plain text -----------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ('<img src=x onerror="alert(1)">Raid in Lyon', "Raid in Lyon"),
        ("&lt;img src=x onerror=alert(1)&gt;Raid", "Raid"),  # markup spelled with entities
        ("&lt;&lt;b&gt;img src=x onerror=alert(1)&gt;Raid", "Raid"),  # ...that the next pass would decode again
        ("&lt;&lt;&lt;&lt;b&gt;b&gt;b&gt;img src=x onerror=alert(1)&gt;Raid", "Raid"),
        ("&amp;lt;img src=x&amp;gt; is how it is spelled", "&lt;img src=x&gt; is how it is spelled"),  # decoded once
        ("x < y and y > z", "x < y and y > z"),  # a lone "<" is text, not a tag
        ("<b>Bold</b> <i>claim</i>", "Bold claim"),
        ("<script>alert(1)</script>Headline", "Headline"),
        ("[click](javascript:alert(1))", "[click](javascript:alert(1))"),  # stays literal text
        ("![pixel](https://tracker.example/p.gif)", "![pixel](https://tracker.example/p.gif)"),
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("Tom & Jerry", "Tom & Jerry"),
        ("AT&amp;amp;T", "AT&amp;T"),  # decoded once, not twice
        ("x &lt; y", "x < y"),
        ("caf&eacute; &#8220;quoted&#8221;", "café “quoted”"),
    ],
)
def test_titles_are_plain_text(raw, expected):
    article = normalize_entry(entry(title=raw), fetched_at=FETCHED)
    assert article.title == expected
    assert "<img" not in article.title and "<script" not in article.title


# 24: summaries and content go through nh3 ---------------------------------------------------


@pytest.mark.parametrize(
    "html, forbidden",
    [
        ('<svg><animate attributeName="href" values="javascript:alert(1)"/><a><text>x</text></a></svg>', ["svg", "animate", "javascript"]),
        ('<form action="javascript:alert(1)"><input type="submit"></form>', ["form", "javascript", "input"]),
        ('<a href="jav&#x09;ascript:alert(1)">x</a>', ["javascript", "jav\tascript", "&#x09;"]),
        ('<img src="https://tracker.example/pixel.gif" width="1" height="1">', ["img", "tracker.example"]),
        ('<p onclick="steal()" style="background:url(https://t.example/x)">text</p>', ["onclick", "style", "t.example"]),
        ("<script>document.cookie</script><p>ok</p>", ["script", "document.cookie"]),
        ('<iframe src="https://evil.example"></iframe>', ["iframe", "evil.example"]),
    ],
)
def test_content_is_sanitised(html, forbidden):
    article = normalize_entry(entry(summary=html, content=html), fetched_at=FETCHED)
    for bad in forbidden:
        assert bad not in article.content.lower()
        assert bad not in article.summary.lower()


def test_safe_markup_survives_in_content():
    html = '<p>Text with <a href="https://example.org/x">a link</a> and <strong>bold</strong>.</p>'
    cleaned = clean_html(html, 10_000)
    assert '<a href="https://example.org/x"' in cleaned and "<strong>bold</strong>" in cleaned
    assert "noopener" in cleaned


def test_summary_is_plain_text_with_block_breaks():
    assert plain_text("<p>First.</p><p>Second &amp; third.</p>", 1000) == "First. Second & third."


# URL keys for deduplication --------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b",
    [
        ("https://www.example.org/news/1", "http://example.org/news/1"),
        ("https://m.example.org/news/1", "https://example.org/news/1/"),
        ("https://amp.example.org/news/1", "https://EXAMPLE.org/news/1#comments"),
        ("https://example.org/news/1?utm_source=rss&utm_medium=feed", "https://example.org/news/1"),
        ("https://example.org/news/1?fbclid=abc&gclid=def&id=7", "https://example.org/news/1?id=7"),
        ("https://example.org/news/1?b=2&a=1", "https://example.org/news/1?a=1&b=2"),
        ("https://example.org:443/news/1", "https://example.org/news/1"),
        ("https://user:pw@example.org/news/1", "https://example.org/news/1"),
    ],
)
def test_url_key_merges_the_same_story(a, b):
    assert url_key(a) == url_key(b) is not None


@pytest.mark.parametrize(
    "a, b",
    [
        ("https://example.org/news/1", "https://example.org/news/2"),
        ("https://example.org/news?id=1", "https://example.org/news?id=2"),
        ("https://example.org/news/1", "https://example.com/news/1"),
        ("https://example.org:8080/news/1", "https://example.org/news/1"),
    ],
)
def test_url_key_keeps_different_stories_apart(a, b):
    assert url_key(a) != url_key(b)


def test_home_page_is_not_a_story_key():
    assert url_key("https://www.example.org/") is None


def test_title_hash_folds_case_and_punctuation_but_skips_generic_titles():
    assert title_hash("Interpol issues red notice for fugitive") == title_hash("INTERPOL issues red notice, for fugitive!")
    assert title_hash("Interpol issues red notice") != title_hash("Europol issues red notice")
    assert title_hash("Engagements") == "" and title_hash("The H Week") == ""


# Encoding repair ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("CataluÃ±a", "Cataluña"),
        ("itâ€™s â€œquotedâ€\x9d", "it’s “quoted”"),
        ("MÃ¼nchen Ã–sterreich", "München Österreich"),
        ("ÐŸÑƒÑ‚Ð¸Ð½", "Путин"),
        ("\x93smart quotes\x94", "“smart quotes”"),
        # genuine text stays as it is
        ("NAPOLEÃO", "NAPOLEÃO"),
        ("Ñandú à la carte", "Ñandú à la carte"),
        ("Apple’s ©2024 «É»", "Apple’s ©2024 «É»"),
    ],
)
def test_double_encoded_utf8_is_repaired_only_when_unambiguous(raw, expected):
    assert repair_mojibake(raw) == expected


# Entries that are not articles ------------------------------------------------------------------


def test_entry_without_title_or_link_is_rejected():
    with pytest.raises(Rejected) as info:
        normalize_entry(entry(title=None, link=None, summary="only a summary"), fetched_at=FETCHED)
    assert info.value.reason == "no_title_or_link"


def test_entry_with_only_a_link_gets_a_readable_title():
    article = normalize_entry(entry(title=None, summary="<p>Police arrested five people.</p>"), fetched_at=FETCHED)
    assert article.title == "Police arrested five people."
    assert article.title_hash == ""  # no headline, so no headline deduplication


@pytest.mark.parametrize(
    "text, hint, expected",
    [
        ("Полиция задержала подозреваемых в мошенничестве", None, "ru"),
        ("Поліція затримала підозрюваних", "uk", "uk"),
        ("国际刑警组织发布红色通缉令", None, "zh"),
        ("インターポールが国際手配", None, "ja"),
        ("The police arrested the suspects after the raid in the city", None, "en"),
        ("La police a arrêté les suspects dans la nuit pour le vol", None, "fr"),
        ("Die Polizei hat die Verdächtigen in der Nacht festgenommen und nicht", None, "de"),
        ("12345", "en-us", "en"),
    ],
)
def test_language_is_guessed_cheaply(text, hint, expected):
    assert detect_language(text, hint) == expected


@pytest.mark.parametrize(
    ("link", "kept"),
    [
        ('https://example.org/a"><img/src=x onerror=alert(1)>', "https://example.org/a%22%3E%3Cimg/src=xonerror=alert(1)%3E"),
        ("https://example.org/a?q={x}|`^\\", "https://example.org/a?q=%7Bx%7D%7C%60%5E%5C"),
        ("https://example.org/a%20b?c=d&e=f#g", "https://example.org/a%20b?c=d&e=f#g"),  # already encoded: unchanged
    ],
)
def test_links_cannot_break_out_of_the_html_they_are_put_in(link, kept):
    assert safe_link(link) == kept
