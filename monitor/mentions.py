"""How many articles concern each stance target, so an empty or thin stance chart is explained.

An article gets a stance tag toward a target when it names one of the target's aliases
(monitor.classify.tagging), so "stance over time" can only be as full as the mentions are.
This reads the articles that pass the page's filters (the stance filter aside: the chart shows
every stance), matches each target's aliases the way tagging does, and counts per target the
articles that name it, the ones of those without a stance tag yet (tagged before an alias was
added, or not tagged yet), and the stance-tagged ones that no longer name it (tagged with an
alias since removed): a re-tag fixes both.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from monitor.classify.features import article_text
from monitor.classify.taxonomy import compile_terms, load_taxonomy
from monitor.filters import Filters, article_conditions
from monitor.store.schema import articles, tags

if TYPE_CHECKING:
    from monitor.store import Database

# The newest articles read per request: a window of a few months of a busy archive is read
# in about a second; beyond that the figures say they are from a sample.
MENTION_SAMPLE = 5000
_IN_CHUNK = 5000


@dataclass(frozen=True)
class TargetMentions:
    target: str
    mentions: int  # articles read that name the target
    without_stance: int  # of those, the ones with no stance tag toward it yet
    stale: int = 0  # articles read with a stance tag toward it that no longer name it (older aliases)


@dataclass(frozen=True)
class Mentions:
    targets: list[TargetMentions]
    read: int  # articles read (the newest `sample` when `matching` is larger)
    matching: int  # articles that pass the filters

    @property
    def sampled(self) -> bool:
        return self.read < self.matching

    def of(self, target: str) -> TargetMentions | None:
        return next((t for t in self.targets if t.target == target), None)


def target_mentions(db: Database, filters: Filters | None = None, *, sample: int = MENTION_SAMPLE) -> Mentions:
    filters = filters or Filters()
    conditions = article_conditions(filters, db, skip=("stance",))
    taxonomy = load_taxonomy(db)
    with db.read() as conn:
        matching = int(conn.execute(select(func.count()).select_from(articles).where(*conditions)).scalar() or 0)
        rows = conn.execute(
            select(articles.c.id, articles.c.title, articles.c.summary, articles.c.content)
            .where(*conditions)
            .order_by(articles.c.published_at.desc(), articles.c.id.desc())
            .limit(max(0, int(sample)))
        ).all()
        ids = [r.id for r in rows]
        stance_of: set[tuple[int, str]] = set()
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            stance_of.update(
                (r[0], r[1]) for r in conn.execute(select(tags.c.article_id, tags.c.target).where(tags.c.kind == "stance", tags.c.article_id.in_(chunk)))
            )
    patterns = [(t, compile_terms(t.aliases)) for t in taxonomy.targets]
    # Cleaning a long article costs more than matching it: the raw text (entities decoded) holds
    # every literal piece the cleaned one does, so it rules out the articles naming no target.
    texts: list[tuple[int, str]] = []
    for r in rows:
        raw = f"{r.title} {r.summary} {r.content}"
        raw = html.unescape(raw) if "&" in raw else raw
        if any(p is not None and p.may_match(raw) for _, p in patterns):
            texts.append((r.id, article_text(r.title, r.summary, r.content)))
    out = []
    for target, pattern in patterns:
        named = [aid for aid, text in texts if pattern is not None and pattern.search(text)]
        named_set = set(named)
        stale = sum(1 for aid, t in stance_of if t == target.name and aid not in named_set)
        out.append(TargetMentions(target.name, len(named), sum(1 for aid in named if (aid, target.name) not in stance_of), stale))
    return Mentions(out, len(rows), matching)
