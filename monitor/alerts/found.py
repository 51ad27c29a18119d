"""What an evaluator found: the one record keyword matching and spike assessment hand to
`monitor.alerts.record`, so neither evaluator knows how matches are stored or sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Match:
    """What an evaluator found: an article (key "a<id>") or a spike day (key "d<YYYY-MM-DD>")."""

    key: str
    article_id: int | None = None
    day: datetime | None = None  # spikes: the day that spiked
    detail: str | None = None  # spikes: the figures
    held_reason: str | None = None  # spikes held back (recorded, never delivered), and why

    @classmethod
    def article(cls, article_id: int) -> Match:
        return cls(f"a{article_id}", article_id)
