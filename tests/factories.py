"""Test data made by inserting rows straight into the store (no parsing, no classifier).

    add_article(db, "Interpol red notice", "2025-03-04", source="TASS",
                topics={"interpol": 0.9}, stances={"Interpol": "AGAINST"})

Topics are a list (score 0.9 each) or a {topic: score} mapping; stances map a target to a label
(score 0.8) or to a (label, score) pair. Tags get the article's published_at, as tagging does.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Mapping
from datetime import date, datetime

from sqlalchemy import insert

from monitor.search_index import index_stored
from monitor.store import utcnow
from monitor.store.schema import articles, tags

_serial = itertools.count(1)


def as_datetime(value: str | date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, 12)
    value = value.strip()
    return datetime.fromisoformat(value if len(value) > 10 else value + "T12:00:00")


def add_article(
    db,
    title: str,
    published_at: str | date | datetime,
    *,
    source: str = "Test source",
    summary: str = "",
    content: str = "",
    lang: str | None = None,
    link: str | None = None,
    guid: str | None = None,
    topics: Iterable[str] | Mapping[str, float] = (),
    stances: Mapping[str, str | tuple[str, float]] | None = None,
    model_version: str = "test-1",
) -> int:
    """Insert one article (and its tags); returns its id."""
    when = as_datetime(published_at)
    n = next(_serial)
    link = link if link is not None else f"https://example.org/{n}"
    with db.write() as conn:
        article_id = conn.execute(
            insert(articles)
            .values(
                url_key=link or None,
                link=link or None,
                guid=guid if guid is not None else f"guid-{n}",
                title=title,
                summary=summary,
                content=content,
                lang=lang,
                source=source,
                published_at=when,
                fetched_at=utcnow(),
                title_hash=hashlib.md5(title.encode()).hexdigest(),
                tag_status="tagged",
            )
            .returning(articles.c.id)
        ).scalar_one()
        index_stored(conn, db, [article_id])
        scores = dict(topics) if isinstance(topics, Mapping) else {t: 0.9 for t in topics}
        rows = [
            dict(article_id=article_id, kind="topic", target="", label=t, score=s, model_version=model_version, published_at=when)
            for t, s in scores.items()
        ]
        for target, value in (stances or {}).items():
            label, score = (value, 0.8) if isinstance(value, str) else value
            rows.append(
                dict(article_id=article_id, kind="stance", target=target, label=label, score=score, model_version=model_version, published_at=when)
            )
        if rows:
            conn.execute(insert(tags), rows)
    return article_id
