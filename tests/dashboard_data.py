"""Test data for the dashboard: a small store filled through the product's own functions where
they exist (ingest), by plain inserts otherwise (tags of a known model, fetch events)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import insert

from monitor.search_index import index_stored
from monitor.store import Database
from monitor.store.schema import articles, feeds, fetch_events, tags

# Titles that try every trick a feed can play on a page (huge fields, javascript: links, markup, tracking pixels):
# each must be shown as the literal text it is.
HOSTILE_TITLES = [
    '<img src=x onerror="alert(1)"> Interpol red notice',
    "[click me](javascript:alert(1)) cybercrime ring busted",
    "![pixel](https://tracker.example/p.gif) money laundering probe",
    "=HYPERLINK(\"http://evil\") corruption trial",
]
TOPICS = ["interpol", "cybercrime", "terrorism", "corruption", "money_laundering"]
SOURCES = ["Example Wire", "Daily Planet", "Policing Times"]


def fill(db: Database, n: int = 60, *, start: datetime = datetime(2026, 10, 1)) -> list[int]:
    """n articles over n/3 days with topic and stance tags; returns their ids."""
    now = datetime(2026, 11, 1)
    with db.write() as conn:
        feed_id = conn.execute(
            insert(feeds).values(url="https://feeds.example.org/rss", name="Example Wire", tags=[], created_at=now, status="ok", consecutive_failures=0, error_count=0, redirect_count=0, enabled=True)
        ).inserted_primary_key[0]
        ids = []
        for i in range(n):
            title = HOSTILE_TITLES[i] if i < len(HOSTILE_TITLES) else f"Story {i} about {TOPICS[i % len(TOPICS)].replace('_', ' ')} and Interpol"
            link = "javascript:alert(1)" if i == 1 else f"https://news.example.org/{i}"
            published = start + timedelta(hours=8 * (n - 1 - i))  # the hostile titles are the newest
            aid = conn.execute(
                insert(articles).values(
                    url_key=f"news.example.org/{i}", link=link, guid=f"g{i}", title=title,
                    summary=f"Summary {i}: police cooperation, extradition and Europol.", content="", source=SOURCES[i % 3],
                    feed_id=feed_id, published_at=published, fetched_at=published, title_hash=hashlib.md5(title.encode()).hexdigest(),
                    tag_status="tagged",
                )
            ).inserted_primary_key[0]
            ids.append(aid)
            index_stored(conn, db, [aid])
            conn.execute(insert(tags).values(article_id=aid, kind="topic", target="", label=TOPICS[i % len(TOPICS)], score=0.9, model_version="test-1", published_at=published))
            conn.execute(insert(tags).values(article_id=aid, kind="stance", target="Interpol", label=("FAVOR", "AGAINST", "NONE")[i % 3], score=0.7, model_version="test-1", published_at=published))
        for d in range(5):
            conn.execute(insert(fetch_events).values(feed_id=feed_id, at=start + timedelta(days=d), outcome="ok" if d != 2 else "SOFT", reason=None if d != 2 else "http_500"))
    return ids
