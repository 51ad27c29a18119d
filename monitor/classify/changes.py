"""What a re-tag changed: topic tags added and removed per topic, kept with the model version.

A retrain is only visible to an analyst through what it does to the archive's tags, so
`retag_all` compares each batch's topic tags before and after and stores the totals in the
active topic model's row (`metrics["retags"]`, newest first). Counting per batch keeps memory
flat on a large archive.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select, update

from monitor.store import utcnow
from monitor.store.schema import classifier_models as cm, tags

KEEP = 10  # re-tags remembered per model version


@dataclass(frozen=True)
class TopicChange:
    topic: str
    before: int  # articles re-tagged that had the tag before
    after: int  # ... and after
    added: int
    removed: int


@dataclass(frozen=True)
class RetagReport:
    model_version: str
    at: datetime
    articles: int
    topics: list[TopicChange]

    @property
    def added(self) -> int:
        return sum(t.added for t in self.topics)

    @property
    def removed(self) -> int:
        return sum(t.removed for t in self.topics)


def _topic_tags(db, ids: list[int]) -> set[tuple[int, str]]:
    with db.read() as conn:
        return {(r[0], r[1]) for r in conn.execute(select(tags.c.article_id, tags.c.label).where(tags.c.kind == "topic", tags.c.article_id.in_(ids)))}


class RetagDiff:
    """Call `before(ids)` and `after(ids)` around each re-tagged batch, then `save()`."""

    def __init__(self, db) -> None:
        self.db = db
        self.counts: dict[str, Counter[str]] = {k: Counter() for k in ("before", "after", "added", "removed")}
        self.articles = 0
        self._pending: set[tuple[int, str]] = set()

    def before(self, ids: list[int]) -> None:
        self._pending = _topic_tags(self.db, ids)

    def after(self, ids: list[int]) -> None:
        now = _topic_tags(self.db, ids)
        old = self._pending
        self.counts["before"].update(label for _, label in old)
        self.counts["after"].update(label for _, label in now)
        self.counts["added"].update(label for _, label in now - old)
        self.counts["removed"].update(label for _, label in old - now)
        self.articles += len(ids)
        self._pending = set()

    def report(self, version: str) -> RetagReport:
        names = sorted(set().union(*(c.keys() for c in self.counts.values())))
        return RetagReport(
            version, utcnow(), self.articles,
            [TopicChange(n, self.counts["before"][n], self.counts["after"][n], self.counts["added"][n], self.counts["removed"][n]) for n in names],
        )

    def save(self) -> RetagReport | None:
        from monitor.classify.modelstore import active_version

        version = active_version(self.db, "topics")
        if version is None or not self.articles:
            return None
        report = self.report(version)
        record = {**asdict(report), "at": report.at.isoformat(timespec="seconds")}
        with self.db.write() as conn:
            metrics = conn.execute(select(cm.c.metrics).where(cm.c.version == version).with_for_update()).scalar()
            if metrics is None:
                return None
            metrics = dict(metrics)
            metrics["retags"] = [record, *(metrics.get("retags") or [])][:KEEP]
            conn.execute(update(cm).where(cm.c.version == version).values(metrics=metrics))
        return report


def _from_record(version: str, r: dict) -> RetagReport:
    return RetagReport(
        version, datetime.fromisoformat(r["at"]), int(r.get("articles", 0)),
        [TopicChange(t["topic"], int(t["before"]), int(t["after"]), int(t["added"]), int(t["removed"])) for t in r.get("topics", [])],
    )


def retags(db, version: str) -> list[RetagReport]:
    """The re-tags made with this model version, newest first."""
    with db.read() as conn:
        metrics = conn.execute(select(cm.c.metrics).where(cm.c.version == version)).scalar()
    return [_from_record(version, r) for r in ((metrics or {}).get("retags") or [])]
