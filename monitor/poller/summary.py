"""What a round (or a whole `poll --forever` run) did; printed by the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from monitor.outcomes import FetchOutcome, Reason
from monitor.poller.decisions import Effects, FeedOutcome

_SUMMED = (
    "feeds", "ok", "unchanged", "failed", "disabled", "moved", "entries", "new_articles", "duplicates", "abandoned",
    "fetch_s", "parse_s", "store_s", "tag_s", "alert_s", "record_s", "writer_s", "hooks_s",
)  # fmt: skip


@dataclass
class PollSummary:
    feeds: int = 0
    ok: int = 0
    unchanged: int = 0
    failed: int = 0
    disabled: int = 0
    moved: int = 0
    entries: int = 0
    new_articles: int = 0
    duplicates: int = 0
    abandoned: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    # where the time went, summed over feeds (fetches and parses overlap, so their sums can
    # exceed elapsed_s); store and record run one at a time on the writer thread, tag and alert
    # on the hooks thread
    fetch_s: float = 0.0
    parse_s: float = 0.0  # parse + normalise, in the worker processes (wall time per document)
    store_s: float = 0.0  # dedup + store
    tag_s: float = 0.0  # monitor.classify.tag_articles
    alert_s: float = 0.0  # monitor.alerts.evaluate_new_articles
    record_s: float = 0.0  # health, schedule, fetch event
    writer_s: float = 0.0  # the writer thread's busy time (store + record)
    hooks_s: float = 0.0  # the hooks thread's busy time (tag + alert)
    # why the round ended early: feeds could not be claimed (database locked past the busy
    # timeout, disk full, read-only); None when it polled everything due
    error: str | None = None

    def add(self, other: PollSummary) -> None:
        for name in _SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for reason, n in other.failures.items():
            self.failures[reason] = self.failures.get(reason, 0) + n
        self.elapsed_s += other.elapsed_s

    def count(self, outcome: FeedOutcome, effects: Effects) -> None:
        """One feed polled and its health written."""
        self.feeds += 1
        if outcome.outcome is FetchOutcome.OK:
            self.ok += 1
        elif outcome.outcome.succeeded:
            self.unchanged += 1
        else:
            self.failed += 1
            self.fail(outcome.reason or "error")
        self.disabled += int(effects.disabled)
        self.moved += int(effects.moved)
        self.count_stored(outcome)

    def count_stored(self, outcome: FeedOutcome) -> None:
        self.entries += outcome.entries
        self.new_articles += outcome.new_articles
        self.duplicates += outcome.duplicates

    def fail(self, reason: str, n: int = 1) -> None:
        self.failures[reason] = self.failures.get(reason, 0) + n

    def store_refused(self, error: BaseException, feeds: int = 1) -> None:
        """The store refused a write (disk full, read-only): counted, and the round says why once."""
        self.fail(Reason.STORE_ERROR, feeds)
        self.error = self.error or f"the store refused to write: {error}"

    def __str__(self) -> str:
        text = (
            f"polled {self.feeds} feed{'s' if self.feeds != 1 else ''} in {self.elapsed_s:.1f} s: "
            f"{self.ok} ok, {self.unchanged} unchanged, {self.failed} failed"
        )
        if self.failures:
            text += " (" + ", ".join(f"{r} {n}" for r, n in sorted(self.failures.items(), key=lambda kv: (-kv[1], kv[0]))) + ")"
        if self.disabled:
            text += f", {self.disabled} disabled"
        if self.moved:
            text += f", {self.moved} moved"
        text += f"; {self.entries} entries, {self.new_articles} new articles, {self.duplicates} duplicates"
        if self.abandoned:
            text += f"; {self.abandoned} left for the next run"
        if self.error:
            text += f"; stopped early: {self.error}"
        return text


assert set(_SUMMED) <= {f.name for f in fields(PollSummary)}
