"""An ill-formed feed that can be partly read (truncated XML, a bare "&") is kept, with a warning
that reaches the analyst: in `ingest`'s output and in the feed's fetch history."""

from __future__ import annotations

from monitor import feeds, poller
from monitor.config import Settings
from tests.feedserver import FeedServer

TRUNCATED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
    b"<item><title>Europol raid one</title><link>https://wire.example.org/1</link><guid>1</guid></item>"
    b"<item><title>Europol raid two</title><link>https://wire.example.org/2</link><guid>2</guid></item>"
    b"<item><title>Europol raid thr"
)


def test_ingest_keeps_a_truncated_feed_and_says_so(cli, tmp_path):
    path = tmp_path / "truncated.xml"
    path.write_bytes(TRUNCATED)
    code, out, err = cli("ingest", str(path))
    assert code == 0, err
    assert "new articles: 2" in out or "new articles: 3" in out
    assert "1 with warnings" in out
    assert f"warning: {path}: ill-formed, kept what could be read:" in err


def test_a_truncated_feed_is_polled_ok_with_its_warning_in_the_fetch_history(db):
    with FeedServer() as srv:
        srv.set("/truncated.xml", TRUNCATED)
        fid = feeds.add_feed(db, srv.url("/truncated.xml"), allow_private=True)
        summary = poller.poll_once(db, allow_private=True, settings=Settings(allow_private_networks=True))
    assert summary.ok == 1 and summary.new_articles >= 2
    (event,) = feeds.recent_fetch_events(db, fid)
    assert event.outcome == "ok"
    assert event.detail and event.detail.startswith("ill-formed, kept what could be read:")
