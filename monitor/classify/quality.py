"""How far to trust the topic tags: analysts' labels against the tags the articles carry now.

Per topic, from every analyst label on a stored article (value 1 = about it, 0 = not):
- recall: of the articles labelled "about it", the share that carries the tag;
- precision: of the labelled articles that carry the tag, the share labelled "about it".
Each with the count it rests on and a 95 % Wilson score interval, which stays honest with a
handful of labels (a normal approximation would give 1/1 a certainty of 100 %).

The model learned from most of these labels, so the figures lean optimistic; the labels given
since the last training are a fair check and are counted apart.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import exists, select

from monitor.store.schema import labels, tags

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    value: float | None  # None: no label to estimate it from
    low: float | None
    high: float | None
    n: int  # labels it rests on
    hits: int


@dataclass(frozen=True)
class TopicQuality:
    topic: str
    precision: Estimate
    recall: Estimate
    labels: int  # article labels for the topic
    since_training: int  # of them, given after the active model was trained (not learned from)


def wilson(hits: int, n: int, confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    """The Wilson score interval of hits/n (scipy's binomtest), (None, None) when n is 0."""
    if n <= 0:
        return None, None
    from scipy.stats import binomtest

    ci = binomtest(int(hits), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def estimate(hits: int, n: int) -> Estimate:
    low, high = wilson(hits, n)
    return Estimate(hits / n if n else None, low, high, n, hits)


def topic_quality(db) -> list[TopicQuality]:
    """One row per topic an analyst labelled on a stored article, in topic order."""
    tagged = exists(
        select(1).where(tags.c.article_id == labels.c.article_id, tags.c.kind == "topic", tags.c.label == labels.c.label)
    )
    with db.read() as conn:
        rows = conn.execute(
            select(labels.c.label, labels.c.value, labels.c.used_in_version, tagged.label("tagged"))
            .where(labels.c.kind == "topic", labels.c.article_id.is_not(None))
        ).all()
    by_topic: dict[str, list] = defaultdict(list)
    for r in rows:
        by_topic[r.label].append(r)
    out = []
    for topic in sorted(by_topic):
        rs = by_topic[topic]
        positives = [r for r in rs if r.value]
        with_tag = [r for r in rs if r.tagged]
        out.append(
            TopicQuality(
                topic=topic,
                precision=estimate(sum(1 for r in with_tag if r.value), len(with_tag)),
                recall=estimate(sum(1 for r in positives if r.tagged), len(positives)),
                labels=len(rs),
                since_training=sum(1 for r in rs if r.used_in_version is None),
            )
        )
    return out
