"""Small typed records passed between modules. Untyped library results stop at the boundary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Entry:
    """One item of a feed as parsed, before normalisation (raw strings, maybe HTML)."""

    guid: str | None
    link: str | None
    title: str | None
    summary: str | None
    content: str | None
    published: datetime | None  # timezone-aware UTC when the feed gave a parseable date
    author: str | None = None


@dataclass(frozen=True)
class ParsedFeed:
    """A whole feed document as parsed."""

    title: str | None
    link: str | None
    entries: list[Entry]
    warning: str | None = None  # set when the document was ill-formed but partly recovered
    ttl_minutes: int | None = None  # the feed's own polling hint (<ttl>, sy:updatePeriod)
    language: str | None = None
    published: datetime | None = None  # the feed's own date (lastBuildDate, updated, pubDate), UTC


@dataclass(frozen=True)
class Article:
    """A normalised article, ready to store: plain-text title and summary, safe link, UTC date."""

    url_key: str | None  # normalised URL, unique across the store
    link: str | None  # http(s) link as published, or None
    guid: str | None
    title: str
    summary: str
    content: str  # sanitised HTML
    published_at: datetime  # UTC, naive in the database
    title_hash: str
    lang: str | None = None
    author: str | None = None
    date_estimated: bool = False  # published_at is the feed's date or the fetch time, not the item's


@dataclass
class IngestStats:
    """What one ingest run did; the CLI prints it as the summary line."""

    documents: int = 0
    entries: int = 0
    new_articles: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    failed_documents: dict[str, str] = field(default_factory=dict)  # path or URL -> reason
    new_article_ids: list[int] = field(default_factory=list)
    # documents that were ill-formed (truncated, a bare "&") but partly read: what was recovered
    # is kept, and the parser's warning is said, never dropped; path, URL or source -> warning
    warnings: dict[str, str] = field(default_factory=dict)

    def reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def add(self, other: IngestStats) -> None:
        self.documents += other.documents
        self.entries += other.entries
        self.new_articles += other.new_articles
        self.duplicates += other.duplicates
        for reason, n in other.rejected.items():
            self.rejected[reason] = self.rejected.get(reason, 0) + n
        self.failed_documents.update(other.failed_documents)
        self.new_article_ids.extend(other.new_article_ids)
        self.warnings.update(other.warnings)
