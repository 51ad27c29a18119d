"""Reading articles a page at a time, with their tags: the Articles page's data (no Streamlit).

Never loads all matching rows: a count, then one page ordered by publication time (indexed), then
the tags of just that page in one query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from monitor.filters import Filters, article_conditions
from monitor.store import Database
from monitor.store.schema import articles, labels, tags

MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class TagView:
    kind: str  # topic|stance
    target: str  # '' for topics
    label: str
    score: float
    model_version: str


@dataclass(frozen=True)
class ArticleRow:
    id: int
    published_at: datetime
    source: str
    title: str
    link: str | None
    tag_status: str
    tags: tuple[TagView, ...]
    date_estimated: bool = False  # no readable date in the item: the feed's date or the fetch time

    @property
    def topics(self) -> tuple[TagView, ...]:
        return tuple(t for t in self.tags if t.kind == "topic")

    @property
    def stances(self) -> tuple[TagView, ...]:
        return tuple(t for t in self.tags if t.kind == "stance")


@dataclass(frozen=True)
class LabelView:
    kind: str
    target: str
    label: str
    value: int
    analyst: str | None
    created_at: datetime
    used_in_version: str | None


@dataclass(frozen=True)
class ArticleDetail:
    row: ArticleRow
    summary: str
    guid: str | None
    author: str | None
    fetched_at: datetime
    tag_error: str | None
    labels: tuple[LabelView, ...]


def count_articles(db: Database, filters: Filters) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(articles).where(*article_conditions(filters, db))).scalar_one())


def article_page(db: Database, filters: Filters, *, offset: int = 0, limit: int = 50) -> list[ArticleRow]:
    """One page of matching articles, newest first, each with all its tags."""
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    offset = max(0, int(offset))
    cols = (articles.c.id, articles.c.published_at, articles.c.source, articles.c.title, articles.c.link, articles.c.tag_status, articles.c.date_estimated)
    with db.read() as conn:
        rows = conn.execute(
            select(*cols)
            .where(*article_conditions(filters, db))
            .order_by(articles.c.published_at.desc(), articles.c.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
        by_article = _tags_of(conn, [r.id for r in rows])
    return [
        ArticleRow(r.id, r.published_at, r.source, r.title, r.link, r.tag_status, by_article.get(r.id, ()), bool(r.date_estimated))
        for r in rows
    ]


def _tags_of(conn, ids: list[int]) -> dict[int, tuple[TagView, ...]]:
    if not ids:
        return {}
    out: dict[int, list[TagView]] = {}
    for t in conn.execute(
        select(tags.c.article_id, tags.c.kind, tags.c.target, tags.c.label, tags.c.score, tags.c.model_version)
        .where(tags.c.article_id.in_(ids))
        .order_by(tags.c.article_id, tags.c.kind.desc(), tags.c.score.desc())
    ):
        out.setdefault(t.article_id, []).append(TagView(t.kind, t.target or "", t.label, float(t.score), t.model_version))
    return {k: tuple(v) for k, v in out.items()}


def article_detail(db: Database, article_id: int) -> ArticleDetail | None:
    with db.read() as conn:
        r = conn.execute(select(articles).where(articles.c.id == article_id)).mappings().first()
        if r is None:
            return None
        tag_rows = _tags_of(conn, [article_id]).get(article_id, ())
        label_rows = conn.execute(
            select(labels).where(labels.c.article_id == article_id).order_by(labels.c.created_at.desc())
        ).mappings().all()
    row = ArticleRow(r["id"], r["published_at"], r["source"], r["title"], r["link"], r["tag_status"], tag_rows, bool(r["date_estimated"]))
    return ArticleDetail(
        row=row,
        summary=r["summary"] or "",
        guid=r["guid"],
        author=r["author"],
        fetched_at=r["fetched_at"],
        tag_error=r["tag_error"],
        labels=tuple(
            LabelView(x["kind"], x["target"] or "", x["label"], int(x["value"]), x["analyst"], x["created_at"], x["used_in_version"])
            for x in label_rows
        ),
    )
