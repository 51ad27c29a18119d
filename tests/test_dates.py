"""Article dates: localised dates read, the fallback chain entry -> feed -> fetch time, and the
`date_estimated` flag on SQLite and PostgreSQL, in the sandboxed parse worker as ingest runs it."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from monitor.ingest import ingest_document, ingest_paths
from monitor.parse import parse_articles
from monitor.store.schema import articles
from tests.conftest import shared_path

FETCHED = datetime(2024, 5, 20, 12, 0)


def rss(items: str, channel_dates: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed</title>'
        f"{channel_dates}{items}</channel></rss>"
    ).encode()


def item(n: int, date: str | None = None, tag: str = "pubDate") -> str:
    when = f"<{tag}>{date}</{tag}>" if date is not None else ""
    return f"<item><title>Item number {n} of the feed</title><link>https://s.example/{n}</link>{when}</item>"


def dates_of(body: bytes) -> dict[str, tuple[datetime, bool]]:
    feed = parse_articles(body, fetched_at=FETCHED)
    return {a.link: (a.published_at, a.date_estimated) for a in feed.articles}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Seg, 24 Set 2018 10:15:00 -0300", datetime(2018, 9, 24, 13, 15)),  # Portuguese
        ("Mo, 24 Sep 2018 10:15:00 +0200", datetime(2018, 9, 24, 8, 15)),  # German
        ("Mi, 24 Okt 2018 10:15:00 +0200", datetime(2018, 10, 24, 8, 15)),
        ("lun., 24 sept. 2018 10:15:00 +0200", datetime(2018, 9, 24, 8, 15)),  # French
        ("24 déc. 2018 10:15", datetime(2018, 12, 24, 10, 15)),
        ("mar, 24 dic 2018 10:15:00 +0100", datetime(2018, 12, 24, 9, 15)),  # Spanish
        ("lunedì, 24 settembre 2018 10:15", datetime(2018, 9, 24, 10, 15)),  # Italian
        ("Пн, 24 сен 2018 10:15:00 +0300", datetime(2018, 9, 24, 7, 15)),  # Russian
        ("понеділок, 24 вересня 2018 10:15", datetime(2018, 9, 24, 10, 15)),  # Ukrainian
        ("Mon, 24 Sep 2018 10:15:00 GMT", datetime(2018, 9, 24, 10, 15)),  # feedparser's own
    ],
)
def test_dates_in_the_languages_feeds_use_are_read(text, expected):
    got = dates_of(rss(item(1, text)))
    assert got["https://s.example/1"] == (expected, False)


LOCALISED = [
    "Seg, 24 Set 2018 10:15:00 -0300", "Mi, 24 Okt 2018 10:15:00 +0200", "lun., 24 sept. 2018 10:15:00 +0200",
    "mar, 24 dic 2018 10:15:00 +0100", "lunedì, 24 settembre 2018 10:15", "Пн, 24 сен 2018 10:15:00 +0300",
    "понеділок, 24 вересня 2018 10:15", "pon, 24 wrz 2018 10:15", "Pzt, 24 Eyl 2018 10:15", "Δευ, 24 Σεπ 2018 10:15",
    "po, 24. září 2018 10:15", "24 szeptember 2018 10:15", "Thu,28 Jul 2022 4:35:5 GMT+9", "Jul 23, 2025 00:00:00-0500",
    "mer, 16 nov 2022 00:38:15 +0100", "03/04/2018 10:15", "24.09.2018", "2018-09-24 10:15 MSK",
    "Set 2018", "12 garbage 34", "31 Fev 2018", "99/99/2018",
]


@pytest.mark.parametrize("text", LOCALISED)
def test_dates_read_one_language_at_a_time_as_dateparser_reads_them_in_all(text):
    """The parsers of one language each (cheap to load) read what one parser of all of them does."""
    from dateparser.date import DateDataParser

    from monitor.dates import _SETTINGS, LANGUAGES, parse_localized

    expected = DateDataParser(languages=list(LANGUAGES), settings=_SETTINGS).get_date_data(text).date_obj
    assert parse_localized(text) == expected


def test_a_feeds_declared_language_decides_a_date_that_reads_in_several():
    from monitor.dates import parse_localized

    assert parse_localized("03/04/2018 10:15") == datetime(2018, 3, 4, 10, 15, tzinfo=timezone.utc)  # month first, as in English
    assert parse_localized("03/04/2018 10:15", "it-IT") == datetime(2018, 4, 3, 10, 15, tzinfo=timezone.utc)
    feed = rss(item(1, "03/04/2018 10:15")).replace(b"<title>Feed</title>", b"<title>Feed</title><language>it</language>")
    assert dates_of(feed)["https://s.example/1"] == (datetime(2018, 4, 3, 10, 15), False)
    assert parse_localized("Seg, 24 Set 2018 10:15:00 -0300", "xx") == datetime(2018, 9, 24, 13, 15, tzinfo=timezone.utc)


def test_an_undated_item_takes_the_feeds_own_date_and_is_estimated():
    channel = "<lastBuildDate>Seg, 24 Set 2018 10:00:00 -0300</lastBuildDate>"
    got = dates_of(rss(item(1) + item(2, "Mon, 24 Sep 2018 09:00:00 GMT"), channel))
    assert got["https://s.example/1"] == (datetime(2018, 9, 24, 13, 0), True)
    assert got["https://s.example/2"] == (datetime(2018, 9, 24, 9, 0), False)


def test_a_channel_pubdate_serves_when_there_is_no_last_build_date():
    got = dates_of(rss(item(1), "<pubDate>Sun, 19 May 2024 08:00:00 GMT</pubDate>"))
    assert got["https://s.example/1"] == (datetime(2024, 5, 19, 8, 0), True)


@pytest.mark.parametrize(
    "date",
    [
        None,  # no date at all
        "Thu, 01 Jan 1970 00:00:00 +0000",  # the epoch placeholder
        "Sat, 01 Jan 1983 00:00:00 GMT",  # before any web feed
        "Thu, 01 Jan 2099 00:00:00 GMT",  # in the future
        "yesterday-ish",  # not a date
    ],
)
def test_unreadable_dates_fall_back_to_the_fetch_time_flagged(date):
    got = dates_of(rss(item(1, date)))
    assert got["https://s.example/1"] == (FETCHED, True)


def test_a_placeholder_feed_date_is_not_used_either():
    got = dates_of(rss(item(1, "Thu, 01 Jan 1970 00:00:00 +0000"), "<lastBuildDate>Thu, 01 Jan 1970 00:00:00 +0000</lastBuildDate>"))
    assert got["https://s.example/1"] == (FETCHED, True)


def test_an_epoch_published_gives_way_to_a_real_updated():
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
        b'<entry><title>An Atom entry with two dates</title><link href="https://s.example/a"/>'
        b"<published>1970-01-01T00:00:00Z</published><updated>2024-05-01T10:00:00Z</updated></entry></feed>"
    )
    assert dates_of(body)["https://s.example/a"] == (datetime(2024, 5, 1, 10, 0), False)


def test_the_flag_is_stored(db):
    body = rss(item(1, "Seg, 24 Set 2018 10:15:00 -0300") + item(2), "<lastBuildDate>Mon, 24 Sep 2018 18:00:00 GMT</lastBuildDate>")
    ingest_document(db, body, source="S", fetched_at=FETCHED)
    with db.read() as conn:
        got = {r.link: (r.published_at, r.date_estimated) for r in conn.execute(select(articles.c.link, articles.c.published_at, articles.c.date_estimated))}
    assert got == {
        "https://s.example/1": (datetime(2018, 9, 24, 13, 15), False),
        "https://s.example/2": (datetime(2018, 9, 24, 18, 0), True),
    }


def test_real_feeds_no_article_carries_the_ingest_time_unflagged(db):
    stats = ingest_paths(db, [shared_path("feeds", "real")], hooks=False)
    assert stats.new_articles > 4000
    with db.read() as conn:
        rows = conn.execute(select(articles.c.published_at, articles.c.fetched_at, articles.c.date_estimated)).all()
    assert [r for r in rows if r.published_at == r.fetched_at and not r.date_estimated] == []
    # localised dates are read: far fewer estimates than the 256 undated-looking items before
    assert sum(r.date_estimated for r in rows) < 240
