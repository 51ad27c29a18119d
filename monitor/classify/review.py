"""The review queue: for one topic, the articles the active model is least sure about.

An analyst's label teaches the model most where its score sits next to the topic's threshold
(uncertainty sampling): a confident tag or a confident "no" confirmed adds little. The queue
scores the newest stored articles with the active topic model (the stored tags keep only the
scores above the threshold, so the "almost tagged" side has to be scored afresh), leaves out
the ones an analyst has already labelled for that topic, and returns those nearest the threshold.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import exists, func, select

from monitor.classify.features import article_text
from monitor.errors import InputError, ModelError
from monitor.store.schema import articles, labels, tags

# Newest articles scored per request: a few seconds of scoring at most on a shared laptop, and
# recent items are what an analyst can judge and what the charts show.
REVIEW_POOL = 2000


@dataclass(frozen=True)
class ReviewItem:
    article_id: int
    title: str
    summary: str
    source: str
    link: str | None
    published_at: datetime
    score: float  # the active model's score for the topic, 0..1
    threshold: float  # the topic's threshold: at or above it the article is tagged
    tagged: bool  # the article carries the topic's tag now


@dataclass(frozen=True)
class ReviewQueue:
    topic: str
    model_version: str | None  # None: no topic model yet
    items: list[ReviewItem]
    scored: int  # unlabelled articles scored to pick the items
    labelled: int  # articles already labelled for this topic (left out)


def _model(db):
    from monitor.classify.modelstore import load_active
    from monitor.classify.topics import TopicModel

    stored = load_active(db, "topics")
    if stored is None:
        return None, None, None
    key = (db.url, stored.version, stored.size)
    with _lock:
        model = _decoded.get(key)
        if model is None:
            _decoded.clear()  # one version per store is current; old ones are dead weight
            _scores.clear()
            model = _decoded[key] = TopicModel.from_payload(stored.payload)
        cache = _scores.setdefault(key, {})
    return model, stored.version, cache


_decoded: dict[tuple[str, str, int], object] = {}
# Scores by article id per model version: every click re-runs the page, and scoring 2 000
# articles again each time (seconds) would make a one-click review a wait.
_scores: dict[tuple[str, str, int], dict[int, np.ndarray]] = {}
_lock = threading.Lock()


def review_queue(db, topic: str, limit: int = 10, pool: int = REVIEW_POOL) -> ReviewQueue:
    """The `limit` unlabelled articles whose score for `topic` is nearest its threshold.

    Ties go to the newer article. Raises InputError for a topic the active model does not know.
    """
    topic = (topic or "").strip()
    if not topic:
        raise InputError("choose a topic to review")
    model, version, cache = _model(db)
    if model is None:
        return ReviewQueue(topic, None, [], 0, 0)
    if topic not in model.labels:
        raise InputError(f"the topic model has no topic {topic!r}: train it first (Models page)")
    j = model.labels.index(topic)
    threshold = float(model.thresholds[j])
    labelled = exists(select(1).where(labels.c.article_id == articles.c.id, labels.c.kind == "topic", labels.c.label == topic))
    has_tag = exists(select(1).where(tags.c.article_id == articles.c.id, tags.c.kind == "topic", tags.c.label == topic))
    with db.read() as conn:
        rows = conn.execute(
            select(articles.c.id, articles.c.title, articles.c.summary, articles.c.source, articles.c.link,
                   articles.c.published_at, has_tag.label("tagged"))
            .where(~labelled)
            .order_by(articles.c.published_at.desc(), articles.c.id.desc())
            .limit(max(0, int(pool)))
        ).all()
        n_labelled = conn.execute(
            select(func.count(labels.c.article_id.distinct())).where(labels.c.kind == "topic", labels.c.label == topic)
        ).scalar() or 0
        known = {r.id: cache[r.id] for r in rows if r.id in cache}
        missing = [r.id for r in rows if r.id not in known]
        texts: dict[int, str] = {}
        for start in range(0, len(missing), 1000):
            for r in conn.execute(
                select(articles.c.id, articles.c.title, articles.c.summary, articles.c.content).where(articles.c.id.in_(missing[start : start + 1000]))
            ):
                texts[r.id] = article_text(r.title, r.summary, r.content)
    if not rows:
        return ReviewQueue(topic, version, [], 0, int(n_labelled))
    if texts:
        ids = list(texts)
        try:
            S = model.scores([texts[i] for i in ids])
        except Exception as e:  # noqa: BLE001 - a model that cannot score is reported, not raised raw
            raise ModelError(f"the topic model cannot score articles: {type(e).__name__}") from None
        known.update(zip(ids, S))
        with _lock:
            if len(cache) > 4 * max(1, int(pool)):  # the archive moved on: drop what scrolled out
                cache.clear()
            cache.update(zip(ids, S))
    scores = [float(known[r.id][j]) for r in rows]
    order = sorted(range(len(rows)), key=lambda i: (abs(scores[i] - threshold), i))[: max(0, int(limit))]
    items = [
        ReviewItem(
            article_id=int(rows[i].id), title=rows[i].title, summary=rows[i].summary or "", source=rows[i].source,
            link=rows[i].link, published_at=rows[i].published_at, score=scores[i], threshold=threshold,
            tagged=bool(rows[i].tagged),
        )
        for i in order
    ]
    return ReviewQueue(topic, version, items, len(rows), int(n_labelled))
