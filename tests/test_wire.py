"""Records that cross the parse-worker pipe: packed and unpacked by field, through marshal."""

from __future__ import annotations

import marshal
from datetime import UTC, datetime

import pytest

from monitor.models import Article, Entry, ParsedFeed
from monitor.normalize import Limits
from monitor.parse import NormalizedFeed, NormalizeOptions, ParseRequest
from monitor.wire import WireError, pack, unpack

ARTICLE = Article(
    url_key="example.org/a?id=1",
    link="https://www.example.org/a?id=1",
    guid=None,
    title="Interpol red notice",
    summary="Зведення — 警察",
    content="<p>text</p>",
    published_at=datetime(2024, 5, 20, 12, 30, 1, 250),
    title_hash="abc123",
    lang="uk",
    author=None,
    date_estimated=True,
)


def _through_the_pipe(record):
    return unpack(type(record), marshal.loads(marshal.dumps(pack(record))))


def test_every_record_the_workers_send_comes_back_equal():
    entry = Entry(guid="g", link=None, title="T", summary=None, content="c", published=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))
    feed = ParsedFeed(title="Feed", link="https://example.org/", entries=[entry], warning="bozo", ttl_minutes=30,
                      language="de", published=datetime(2024, 1, 1, tzinfo=UTC))
    normalized = NormalizedFeed(feed=ParsedFeed(title=None, link=None, entries=[]), entries=7, articles=[ARTICLE, ARTICLE],
                                rejected={"no_title_or_link": 2})
    request = ParseRequest(b"<rss/>\x00\xff", "application/rss+xml",
                           NormalizeOptions(datetime(2024, 5, 20, 12), 500, Limits(10, 20, 30)))
    for record in (ARTICLE, entry, feed, normalized, request, ParseRequest(b"x", "")):
        assert _through_the_pipe(record) == record
    # a naive date stays naive, an aware one aware (and in UTC)
    assert _through_the_pipe(ARTICLE).published_at.tzinfo is None
    assert _through_the_pipe(entry).published.tzinfo is UTC


def test_fields_are_read_by_name_not_position():
    packed = pack(ARTICLE)
    reordered = dict(reversed(list(packed.items())))
    assert unpack(Article, reordered) == ARTICLE
    # a field with a default may be left out (an older worker); one without may not
    del packed["author"], packed["date_estimated"]
    assert unpack(Article, packed).author is None
    del packed["title"]
    with pytest.raises(WireError, match="title"):
        unpack(Article, packed)


@pytest.mark.parametrize(
    "field, value",
    [("title", None), ("title", 5), ("date_estimated", 1), ("published_at", "2024-05-20"), ("published_at", (2024, 13, 1, 0, 0, 0, 0, 0))],
)
def test_a_value_of_the_wrong_type_is_refused_not_stored(field, value):
    packed = pack(ARTICLE)
    packed[field] = value
    with pytest.raises(WireError, match=field):
        unpack(Article, packed)


def test_a_worker_reply_that_does_not_fit_is_a_parse_error():
    from monitor.errors import ParseError
    from monitor.parse import _reply_record

    with pytest.raises(ParseError) as e:
        _reply_record({"normalized": {"feed": "nonsense"}}, "normalized", NormalizedFeed)
    assert e.value.reason == "malformed"
    with pytest.raises(ParseError) as e:
        _reply_record({"error": "not_a_feed", "message": "not an RSS or Atom feed"}, "feed", ParsedFeed)
    assert e.value.reason == "not_a_feed"
