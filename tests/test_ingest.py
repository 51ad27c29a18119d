"""Ingest end to end on SQLite and PostgreSQL: the real feeds, deduplication, control
characters stripped, bad dates fixed, huge fields truncated."""

from __future__ import annotations

import csv
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from monitor.errors import ParseError
from monitor.ingest import ingest_document, ingest_paths, store_parsed
from monitor.normalize import Rejected, normalize_entry
from monitor.parse import parse_feed
from monitor.store import utcnow
from monitor.store.schema import articles, sightings
from tests.conftest import shared_path

NOW = datetime(2024, 5, 20, 12, 0)


def rss(items: str, title: str = "Test Feed") -> bytes:
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>{items}</channel></rss>'.encode()


def item(title: str | None = None, link: str | None = None, guid: str | None = None, date: str | None = None, description: str = "") -> str:
    parts = []
    if title is not None:
        parts.append(f"<title>{title}</title>")
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{guid}</guid>')
    if date is not None:
        parts.append(f"<pubDate>{date}</pubDate>")
    if description:
        parts.append(f"<description>{description}</description>")
    return "<item>" + "".join(parts) + "</item>"


def store(db, body: bytes, **kw):
    """Parse and store without the tagging/alert hooks: their first run on a fresh database trains
    bootstrap models, which these tests of deduplication do not need to wait for."""
    return store_parsed(db, parse_feed(body), **kw)


def count(db, table=articles, *where) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


# The real feeds ---------------------------------------------------------------------------------


def test_real_feeds_every_entry_becomes_an_article_once_and_a_rerun_adds_nothing(db):
    real = shared_path("feeds", "real")
    stats = ingest_paths(db, [real], hooks=False)
    assert stats.failed_documents == {}
    assert stats.documents == 124
    assert stats.new_articles == count(db) > 4000

    with db.read() as conn:
        keys = set(conn.execute(select(articles.c.url_key)).scalars())
        titles = set(conn.execute(select(articles.c.title)).scalars())
    missing = []
    for path in sorted(real.rglob("*.xml")):
        feed = parse_feed(path.read_bytes())
        for entry in feed.entries:
            try:
                a = normalize_entry(entry, fetched_at=NOW, feed_language=feed.language)
            except Rejected:
                assert not (entry.title or "").strip() and not entry.link
                continue
            if a.url_key not in keys and a.title not in titles:
                missing.append((path.name, a.title))
    assert missing == []

    again = ingest_paths(db, [real], hooks=False)
    assert again.new_articles == 0
    assert again.failed_documents == {}
    assert count(db) == stats.new_articles


_MOJIBAKE = re.compile("Ã[\x80-\xbf]|â€|Ã©|Ã¨|Ã¤|Ã¶|Ã¼")


def test_mojibake_and_odd_encodings_come_out_readable(db):
    real = shared_path("feeds", "real")
    with open(real / "MANIFEST.csv", newline="", encoding="utf-8") as f:
        manifest = list(csv.DictReader(f))
    odd = [r["file"] for r in manifest if "MOJIBAKE" in r["notes"] or r["wellformed_expat"] != "true" or r["bom"]]
    assert len(odd) >= 20
    ingest_paths(db, [real / name for name in odd], hooks=False)
    with db.read() as conn:
        rows = conn.execute(select(articles.c.source, articles.c.title, articles.c.summary)).all()
    assert rows
    bad = [(s, t) for s, t, summary in rows if _MOJIBAKE.search(t) or _MOJIBAKE.search(summary[:500])]
    assert bad == []
    assert not [t for _, t, _s in rows if "\ufffd" in t]
    text = " ".join(t for _, t, _s in rows)
    for word in ("Cataluña", "für", "é"):  # 20minutos, Spiegel/FAZ, the French feeds
        assert word in text


# Deduplication ------------------------------------------------------------------------------------


def test_same_url_in_two_feeds_is_one_article_with_two_sightings(db):
    one = store(db, rss(item("Interpol arrests fugitive in Spain", "https://www.news.example/a/1?utm_source=rss")), source="A", fetched_at=NOW)
    two = store(db, rss(item("Interpol arrests fugitive", "https://news.example/a/1#top")), source="B", fetched_at=NOW)
    assert (one.new_articles, two.new_articles, two.duplicates) == (1, 0, 1)
    assert count(db) == 1
    assert count(db, sightings) == 2


def test_title_repeated_by_one_source_within_the_window_is_one_article(db):
    title = "Europol dismantles money laundering network in six countries"
    store(db, rss(item(title, "https://a.example/1", date="Mon, 13 May 2024 10:00:00 GMT")), source="A", fetched_at=NOW)
    near = store(db, rss(item(title, "https://a.example/1-updated", date="Wed, 15 May 2024 10:00:00 GMT")), source="A", fetched_at=NOW)
    far = store(db, rss(item(title, "https://a.example/2", date="Mon, 01 Jan 2024 10:00:00 GMT")), source="A", fetched_at=NOW)
    other = store(db, rss(item(title, "https://b.example/1", date="Wed, 15 May 2024 10:00:00 GMT")), source="B", fetched_at=NOW)
    assert near.new_articles == 0
    assert far.new_articles == 1  # outside the window: a new story under an old headline
    assert other.new_articles == 1  # another outlet's article is its own
    assert count(db) == 3


# 20: identities --------------------------------------------------------------------------------------


def test_items_without_guid_or_link_have_a_stable_key(db):
    body = rss(item("Only a title here, nothing else", description="and a summary") + item("Another title-only item in the feed"))
    assert store(db, body, source="S", fetched_at=NOW).new_articles == 2
    assert store(db, body, source="S", fetched_at=NOW + timedelta(hours=1)).new_articles == 0
    assert count(db) == 2


def test_duplicate_guids_for_different_items_do_not_hide_items(db):
    body = rss("".join(item(f"Distinct story number {i} today", f"https://s.example/{i}", guid="same-guid") for i in range(5)))
    assert store(db, body, source="S", fetched_at=NOW).new_articles == 5
    assert store(db, body, source="S", fetched_at=NOW).new_articles == 0


def test_guid_changing_on_every_fetch_adds_no_duplicates(db):
    for n in range(3):
        body = rss(item("A story whose guid keeps changing", "https://s.example/story", guid=f"random-{n}"))
        store(db, body, source="S", fetched_at=NOW + timedelta(minutes=n))
    assert count(db) == 1


def test_same_item_twice_in_one_document_is_stored_once(db):
    body = rss(item("Twice in the same feed document", "https://s.example/x", guid="g1") * 2)
    stats = store(db, body, source="S", fetched_at=NOW)
    assert (stats.entries, stats.new_articles) == (2, 1)


def test_ten_thousand_items_are_capped_and_reingest_adds_nothing(db):
    from monitor.config import settings

    cap = settings().max_items_per_feed
    body = rss("".join(item(f"Item {i} of a huge dump feed", f"https://dump.example/{i}") for i in range(10_000)))
    stats = store(db, body, source="Dump", fetched_at=NOW)
    assert stats.new_articles == cap
    assert stats.rejected == {"over_item_cap": 10_000 - cap}
    assert store(db, body, source="Dump", fetched_at=NOW).new_articles == 0
    assert count(db) == cap


# 18, 19, 21: what is stored ------------------------------------------------------------------------


def test_nul_and_controls_are_stripped_before_storage(db):
    # PostgreSQL rejects NUL in text: this would fail there if it reached the database.
    body = rss(item("Police\x00 raid\x07 in Lyon today", "https://s.example/nul", description="Sum\x00mary\x1b text"))
    store(db, body, source="S", fetched_at=NOW)
    with db.read() as conn:
        title, summary = conn.execute(select(articles.c.title, articles.c.summary)).one()
    assert "\x00" not in title + summary and "\x07" not in title and "\x1b" not in summary
    assert "raid" in title


def test_dates_are_stored_as_utc_with_fallback_and_clamp(db):
    body = rss(
        item("Has a zone offset in its date", "https://s.example/1", date="Mon, 20 May 2024 14:00:00 +0200")
        + item("Has no date at all in the item", "https://s.example/2")
        + item("Has a date far in the future", "https://s.example/3", date="Thu, 01 Jan 2099 00:00:00 GMT")
        + item("Has an unparseable date string", "https://s.example/4", date="yesterday-ish")
        + item("Has the epoch as its date", "https://s.example/5", date="Thu, 01 Jan 1970 00:00:00 GMT")
    )
    store(db, body, source="S", fetched_at=NOW)
    with db.read() as conn:
        got = dict(conn.execute(select(articles.c.link, articles.c.published_at)).all())
    assert got["https://s.example/1"] == datetime(2024, 5, 20, 12, 0)
    assert all(got[f"https://s.example/{i}"] == NOW for i in (2, 3, 4, 5))


def test_huge_title_and_content_are_truncated_in_the_store(db):
    from monitor.config import settings

    body = rss(item("headline " * 120_000, "https://s.example/big", description="<p>" + "body " * 2_000_000 + "</p>"))
    assert len(body) > 10_000_000
    store(db, body, source="S", fetched_at=NOW)
    with db.read() as conn:
        title, content = conn.execute(select(articles.c.title, articles.c.content)).one()
    assert len(title) <= settings().max_title_chars
    assert len(content) <= settings().max_content_chars


# Sources, failures, the command ------------------------------------------------------------------


def test_source_is_the_argument_else_the_feed_title_else_the_file_name(db, tmp_path):
    store(db, rss(item("Named by the argument here", "https://s.example/1"), title="Feed Title"), source="Given", fetched_at=NOW)
    store(db, rss(item("Named by the feed title here", "https://s.example/2"), title="Feed Title"), fetched_at=NOW)
    (tmp_path / "untitled-feed.xml").write_bytes(rss(item("Named by the file name here", "https://s.example/3"), title=""))
    ingest_paths(db, [tmp_path], hooks=False)
    with db.read() as conn:
        got = dict(conn.execute(select(articles.c.link, articles.c.source)).all())
    assert got == {"https://s.example/1": "Given", "https://s.example/2": "Feed Title", "https://s.example/3": "untitled-feed"}


def test_a_document_that_is_not_a_feed_raises_parse_error(db):
    with pytest.raises(ParseError) as info:
        ingest_document(db, b"<html><body>Access denied</body></html>", source="S")
    assert info.value.reason == "not_a_feed"
    assert count(db) == 0


def test_cli_ingest_reports_bad_documents_and_goes_on(cli, tmp_path):
    (tmp_path / "good.xml").write_bytes(rss(item("A perfectly good article title", "https://s.example/good")))
    (tmp_path / "page.xml").write_bytes(b"<html><body>not a feed</body></html>")
    (tmp_path / "cut.xml").write_bytes(b'<?xml version="1.0"?><rss version="2.0"><chan')
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "more.rss").write_bytes(rss(item("Found in a nested folder too", "https://s.example/nested")))
    (tmp_path / "notes.txt").write_text("not picked up from a folder")
    code, out, err = cli("ingest", str(tmp_path))
    assert code == 0
    # a cut-off feed is kept with a warning (what could be read), an HTML page is no feed at all
    assert "documents: 4 (1 failed, 1 with warnings)" in out and "new articles: 2" in out
    assert re.search(r"page\.xml: not_a_feed", err) and re.search(r"warning: .*cut\.xml", err)
    assert "Traceback" not in out + err
    code, out, _ = cli("ingest", str(tmp_path), "--source", "Archive")
    assert "new articles: 0" in out


def test_cli_ingest_of_a_missing_path_is_a_one_line_error(cli, tmp_path):
    code, out, err = cli("ingest", str(tmp_path / "nope.xml"))
    assert code != 0
    assert err.strip().count("\n") == 0 and "no such file" in err


def test_conformance_corpus_goes_through_ingest_without_crashing(db):
    conformance = shared_path("feeds", "conformance")
    stats = ingest_paths(db, [conformance / "wellformed", conformance / "illformed"], hooks=False)
    assert stats.documents > 1700
    assert all("/illformed/" in path for path in stats.failed_documents)
    assert all(re.match(r"(malformed|not_a_feed|empty)\b", reason) for reason in stats.failed_documents.values())


# Resuming after a crash -------------------------------------------------------------------------


def test_articles_a_killed_process_never_tagged_are_tagged_and_alerted_once_on_resume(db):
    """Stored, then the process died before its hooks ran: the next poller's start catches up,
    and a second resume (or another poller doing the same) adds no second alert."""
    from monitor import alerts
    from monitor.ingest import resume_hooks
    from monitor.store.schema import alert_matches

    alerts.add_alert(db, "Ransomware", "ransomware")
    an_hour_ago = utcnow() - timedelta(hours=1)
    body = rss(item("Ransomware gang hits a hospital", "https://e.example/1", description="Hackers encrypted records.")
               + item("Cup final tonight", "https://e.example/2"))
    stored = store(db, body, fetched_at=an_hour_ago)
    just_now = store(db, rss(item("Ransomware again, minutes ago", "https://e.example/3")))  # maybe a live poller's
    assert count(db, articles, articles.c.tag_status == "pending") == 3

    assert resume_hooks(db) == 2
    assert count(db, articles, articles.c.id.in_(stored.new_article_ids), articles.c.tag_status == "tagged") == 2
    assert count(db, articles, articles.c.id.in_(just_now.new_article_ids), articles.c.tag_status == "pending") == 1
    assert count(db, alert_matches) == 1
    assert resume_hooks(db) == 0 and count(db, alert_matches) == 1


def test_documents_stored_together_keep_the_order_of_the_files(db, tmp_path):
    """ingest stores the documents that are parsed by then in one transaction; which feed's copy
    of a shared story is kept (its source, its id) is still the first file's, as one by one,
    whatever the parsing's timing, on SQLite and PostgreSQL alike."""
    shared = item("Interpol arrests a suspect", "https://example.org/shared", guid="s")
    names = ["Zeta Daily", "Alpha News", "Mid Post", "Beta Times"] * 3
    for i, name in enumerate(names):
        own = "".join(item(f"{name} story {i}.{k}", f"https://example.org/{i}/{k}", guid=f"{i}-{k}") for k in range(3))
        (tmp_path / f"{i:02d}.xml").write_bytes(rss(shared + own, title=name))
    stats = ingest_paths(db, [tmp_path], hooks=False)
    assert (stats.documents, stats.new_articles, stats.duplicates) == (12, 37, 11)
    with db.read() as conn:
        rows = conn.execute(select(articles.c.source, articles.c.title).order_by(articles.c.id)).all()
    assert rows[0] == ("Zeta Daily", "Interpol arrests a suspect")
    # articles are numbered in file order: file i's own stories follow file i-1's
    assert [r.source for r in rows[1:]] == [name for name in names for _ in range(3)]
    assert count(db, sightings) == 4 + 36  # the shared story once per source, each own story once
