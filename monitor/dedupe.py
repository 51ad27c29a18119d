"""One document's articles -> stored once: the deduplication and the write, inside the caller's
write transaction (`monitor.ingest.store_documents` holds it). Deduplication, in this order:

1. (source, guid_key): the item was seen in this source before (re-poll, re-ingest);
2. url_key: the same story, reached through another feed or a tracking-laden link;
3. title hash within the source over `title_dedup_days`: re-published under a new URL.

Every sighting is recorded (`sightings`), also for duplicates, so "seen in N feeds" is known.
Writes use INSERT … ON CONFLICT DO NOTHING, and on PostgreSQL a per-source advisory lock, so two
pollers storing the same story at once keep one copy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update

from monitor.locks import LockKey
from monitor.models import Article
from monitor.normalize import guid_key
from monitor.search_index import ArticleText, index_articles, postgres_articles, postgres_document, register_languages
from monitor.store import Database
from monitor.store.schema import articles, sightings

_CHUNK = 400  # keys per IN (...) lookup: well under SQLite's variable limit


@dataclass(frozen=True)
class KeyedArticle:
    """An article with its identity in its source (`guid_key`)."""

    article: Article
    guid_key: str


@dataclass(frozen=True)
class StoredItems:
    """What storing one document's articles did."""

    new_ids: list[int]  # the articles it added, ascending
    duplicates: int  # items that were already stored (or lost a race to another writer)


def with_guid_keys(normalized: list[Article]) -> list[KeyedArticle]:
    """Pair each article with its identity in the source, dropping repeats inside the document.

    Identities a feed proves unreliable are not used: a guid shared by items with different
    links or titles (some feeds give every item the same guid) gives way to the link, and a link shared by
    items with different text (day pages, a sponsor post and its review) is not their URL key."""
    links_per_guid: dict[str, set] = {}
    texts_per_url: dict[str, set] = {}
    for a in normalized:
        if a.guid:
            links_per_guid.setdefault(a.guid, set()).add((a.url_key, a.title))
        if a.url_key:
            texts_per_url.setdefault(a.url_key, set()).add((a.title, a.summary[:200]))
    items: list[KeyedArticle] = []
    seen: set[str] = set()
    for a in normalized:
        if a.url_key and len(texts_per_url[a.url_key]) > 1:
            a = dataclasses.replace(a, url_key=None)
        guid = a.guid if a.guid and len(links_per_guid[a.guid]) == 1 else None
        key = guid_key(guid, a.url_key, a.title, a.summary)
        if key in seen:
            continue  # the same item twice in one document
        seen.add(key)
        items.append(KeyedArticle(a, key))
    return items


def store_items(
    conn: Connection, db: Database, items: list[KeyedArticle], source: str, feed_id: int | None, fetched_at: datetime, window: timedelta
) -> StoredItems:
    """Store one document's articles inside the caller's write transaction."""
    if not db.is_sqlite:
        # Serialise writers of one source (SQLite's BEGIN IMMEDIATE already serialises all).
        conn.execute(select(func.pg_advisory_xact_lock(int(LockKey.SOURCE), func.hashtext(source))))
    insert = _dialect_insert(db)
    seen = _touch_seen(conn, source, items, fetched_at)
    fresh = [it for it in items if it.guid_key not in seen]
    if not fresh:
        return StoredItems([], len(items))
    stored = _Stored.look_up(conn, source, fresh)
    plan = _plan(fresh, stored, window)
    new_id_of = _insert_articles(conn, db, insert, plan.to_insert, source, feed_id, fetched_at)

    # Items that lost a race on url_key to another writer point at the winner's article.
    lost = [it.article.url_key for it in plan.to_insert if it.guid_key not in new_id_of and it.article.url_key]
    for chunk in _chunks(lost):
        for k, i in conn.execute(select(articles.c.url_key, articles.c.id).where(articles.c.url_key.in_(chunk))):
            stored.by_url[k] = i

    rows = []
    for it, article_id in plan.sighting_for:
        if article_id is None:
            owner = plan.link_to.get(it.guid_key, it)
            url_key = owner.article.url_key
            article_id = new_id_of.get(owner.guid_key) or (stored.by_url.get(url_key) if url_key else None)
        if article_id is None:
            continue
        rows.append(
            {"article_id": article_id, "feed_id": feed_id, "source": source, "guid_key": it.guid_key, "first_seen_at": fetched_at, "last_seen_at": fetched_at}
        )
    if rows:
        conn.execute(insert(sightings).on_conflict_do_nothing(index_elements=["source", "guid_key"]), rows)
    new_ids = sorted(new_id_of.values())
    return StoredItems(new_ids, len(items) - len(new_ids))


def _touch_seen(conn: Connection, source: str, items: list[KeyedArticle], fetched_at: datetime) -> dict[str, int]:
    """Rule 1: the items this source has shown before (guid_key -> sighting id), marked seen now."""
    seen: dict[str, int] = {}
    for chunk in _chunks([it.guid_key for it in items]):
        rows = conn.execute(
            select(sightings.c.guid_key, sightings.c.id).where(sightings.c.source == source, sightings.c.guid_key.in_(chunk))
        )
        seen.update({k: i for k, i in rows})
    for chunk in _chunks(list(seen.values())):
        conn.execute(update(sightings).where(sightings.c.id.in_(chunk)).values(last_seen_at=fetched_at))
    return seen


@dataclass
class _Stored:
    """Rules 2 and 3 against what is stored: articles by URL key, and this source's by title hash."""

    by_url: dict[str, int]
    by_title: dict[str, list[tuple[datetime, int]]]

    @classmethod
    def look_up(cls, conn: Connection, source: str, fresh: list[KeyedArticle]) -> _Stored:
        by_url: dict[str, int] = {}
        for chunk in _chunks(sorted({it.article.url_key for it in fresh if it.article.url_key})):
            rows = conn.execute(select(articles.c.url_key, articles.c.id).where(articles.c.url_key.in_(chunk)))
            by_url.update({k: i for k, i in rows})
        by_title: dict[str, list[tuple[datetime, int]]] = {}
        hashes = sorted({it.article.title_hash for it in fresh if it.article.title_hash and it.article.url_key not in by_url})
        for chunk in _chunks(hashes):
            titled = conn.execute(
                select(articles.c.title_hash, articles.c.published_at, articles.c.id).where(
                    articles.c.source == source, articles.c.title_hash.in_(chunk)
                )
            )
            for h, when, article_id in titled:
                by_title.setdefault(h, []).append((when, article_id))
        return cls(by_url, by_title)

    def match(self, a: Article, window: timedelta) -> int | None:
        existing = self.by_url.get(a.url_key) if a.url_key else None
        if existing is None and a.title_hash:
            existing = next((i for when, i in self.by_title.get(a.title_hash, ()) if abs(when - a.published_at) <= window), None)
        return existing


@dataclass
class _Plan:
    """Which items are new, and which article each sighting belongs to."""

    to_insert: list[KeyedArticle] = field(default_factory=list)
    sighting_for: list[tuple[KeyedArticle, int | None]] = field(default_factory=list)  # None: a new article's
    link_to: dict[str, KeyedArticle] = field(default_factory=dict)  # guid_key -> the new item whose article it shares


def _plan(fresh: list[KeyedArticle], stored: _Stored, window: timedelta) -> _Plan:
    """Decide, in document order, which items are new; repeats inside the batch count as well."""
    plan = _Plan()
    batch_url: dict[str, KeyedArticle] = {}
    batch_title: dict[str, list[KeyedArticle]] = {}
    for it in fresh:
        a = it.article
        existing = stored.match(a, window)
        if existing is not None:
            plan.sighting_for.append((it, existing))
            continue
        twin = batch_url.get(a.url_key) if a.url_key else None
        if twin is None and a.title_hash:
            twin = next((o for o in batch_title.get(a.title_hash, ()) if abs(o.article.published_at - a.published_at) <= window), None)
        plan.sighting_for.append((it, None))
        if twin is not None:
            plan.link_to[it.guid_key] = twin
            continue
        plan.to_insert.append(it)
        if a.url_key:
            batch_url[a.url_key] = it
        if a.title_hash:
            batch_title.setdefault(a.title_hash, []).append(it)
    return plan


def _chunks(values: list, size: int = _CHUNK) -> Iterator[list]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _dialect_insert(db: Database) -> Callable[..., Any]:
    """The dialect's INSERT, which has ON CONFLICT DO NOTHING."""
    from sqlalchemy.dialects import postgresql, sqlite

    return sqlite.insert if db.is_sqlite else postgresql.insert


def _insert_articles(conn, db, insert, to_insert: list[KeyedArticle], source, feed_id, fetched_at) -> dict[str, int]:
    """Insert new articles in two bulk statements; returns guid_key -> new article id."""

    sqlite = db.is_sqlite
    table = articles if sqlite else postgres_articles()  # PostgreSQL: the search vector goes with the row
    register_languages(conn, db, {it.article.lang for it in to_insert})

    def row(it: KeyedArticle) -> dict:
        a = it.article
        values = {
            "url_key": a.url_key,
            "link": a.link,
            "guid": a.guid,
            "title": a.title,
            "summary": a.summary,
            "content": a.content,
            "author": a.author,
            "source": source,
            "feed_id": feed_id,
            "published_at": a.published_at,
            "date_estimated": a.date_estimated,
            "fetched_at": fetched_at,
            "lang": a.lang,
            "title_hash": a.title_hash,
            "tag_status": "pending",
        }
        if not sqlite:
            values["search_vector"] = postgres_document(a.title, a.summary, a.content, a.lang)
        return values

    new_id_of: dict[str, int] = {}
    keyed = [it for it in to_insert if it.article.url_key]
    if keyed:
        by_key = {it.article.url_key: it.guid_key for it in keyed}
        stmt = insert(table).on_conflict_do_nothing(index_elements=["url_key"]).returning(table.c.id, table.c.url_key)
        for article_id, key in conn.execute(stmt, [row(it) for it in keyed]):
            new_id_of[by_key[key]] = article_id
    unkeyed = [it for it in to_insert if not it.article.url_key]
    if unkeyed:
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids = conn.execute(stmt, [row(it) for it in unkeyed]).scalars().all()
        for it, article_id in zip(unkeyed, ids):
            new_id_of[it.guid_key] = article_id
    if sqlite:
        searchable = []
        for it in to_insert:
            article_id = new_id_of.get(it.guid_key)
            if article_id is not None:
                a = it.article
                searchable.append(ArticleText(article_id, a.title, a.summary, a.content, a.lang))
        index_articles(conn, db, searchable)
    return new_id_of
