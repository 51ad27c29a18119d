"""The topic bootstrap's per-article work, done ahead of training.

What the bootstrap reads of each stored article (`StoredText`), where its seed terms stand
(weaklabels.seed_evidence) and the terms the feature analyzer finds in it depend on that article
alone. A first ingest trains at its end, on everything it stored, and the training child it
started early (monitor.classify.child) would otherwise wait idle until then: it prepares the
articles already stored while the rest are parsed (`Prepared.catch_up`). Training takes what was
prepared for an article whose stored fields are unchanged, and reads the rest itself, so the
model is the same whenever the preparing stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import select

from monitor.classify import analyzers
from monitor.classify.features import Analysed, FeatureConfig, article_text, clean_text, stored_key
from monitor.classify.taxonomy import TermMatcher, Topic, load_taxonomy
from monitor.classify.topics import passages_of
from monitor.classify.weaklabels import Evidence, blank_spans, seed_evidence
from monitor.store.schema import articles

# What the archive's topic model reads of each article: its lead. Items are judged by their title
# and summary, and a long article's passages are scored from its lead too (topics.MAX_PASSAGES);
# reading the whole of every stored article made training over 6 000 of them take 75 s, not 20.
ARCHIVE_TEXT_CHARS = 4_000
MAX_WEAK_ARTICLES = 20_000  # the bootstrap learns from the newest this many stored articles
CATCH_UP_BATCH = 200  # articles read per look at the store while waiting: the run's request waits for the last look


def bootstrap_features() -> FeatureConfig:
    """The features of the topic model trained on the archive."""
    return FeatureConfig(word_chars=ARCHIVE_TEXT_CHARS)


@dataclass(frozen=True)
class StoredText:
    """What the bootstrap reads of a stored article."""

    id: int
    title: str  # clean
    text: str  # the classifier's text (features.article_text), cut at ARCHIVE_TEXT_CHARS
    key: int  # stored_key of the fields it was read from

    @classmethod
    def read(cls, row, whole: str | None = None) -> StoredText:
        """From a row with id, title, summary and content (`whole`: its article_text, if known)."""
        text = (whole if whole is not None else article_text(row.title, row.summary, row.content))[:ARCHIVE_TEXT_CHARS]
        return cls(row.id, clean_text(row.title), text, stored_key(row.title, row.summary, row.content))


@dataclass
class Prepared:
    """Stored articles prepared for the topic bootstrap, by article id, with the seed terms of
    `topics`."""

    url: str
    topics: tuple[Topic, ...]
    texts: dict[int, StoredText] = field(default_factory=dict)
    evidence: dict[int, tuple[dict[str, Evidence], list[tuple[int, int]]]] = field(default_factory=dict)
    analysed: Analysed | None = None
    wholes: dict[int, tuple[int, str]] = field(default_factory=dict)  # id -> (stored_key, article_text) of a text cut for training
    last_id: int = 0

    @classmethod
    def start(cls, db, topics: tuple[Topic, ...] | None = None) -> Prepared:
        """Nothing prepared yet, for the store's topics (`topics`, if already read)."""
        spec, chars, _min_df = bootstrap_features().block_specs()[0]
        return cls(db.url, load_taxonomy(db).topics if topics is None else topics, analysed=Analysed(spec, chars))

    def analyse(self, texts: list[str]) -> None:
        """Analyse texts training will read besides the stored articles."""
        assert self.analysed is not None  # set by start
        self.analysed.add(texts, analyzers.build(self.analysed.spec))

    def catch_up(self, db, limit: int = CATCH_UP_BATCH) -> int:
        """Prepare up to `limit` articles stored since the last look; returns how many. Stops at
        MAX_WEAK_ARTICLES: training reads the newest that many, so in a larger run the first ones
        prepared go unused, and preparing more would only repeat that waste."""
        limit = min(limit, MAX_WEAK_ARTICLES - len(self.texts))
        if limit <= 0:
            return 0
        with db.read() as conn:
            rows = conn.execute(
                select(articles.c.id, articles.c.title, articles.c.summary, articles.c.content)
                .where(articles.c.id > self.last_id).order_by(articles.c.id).limit(limit)
            ).all()
        if not rows:
            return 0
        matcher = self.matcher
        assert self.analysed is not None  # set by start
        read: list[str] = []
        for row in rows:
            whole = article_text(row.title, row.summary, row.content)
            article = StoredText.read(row, whole)
            self.texts[article.id] = article
            if len(whole) > len(article.text):  # the re-tag reads all of it (passages, stance)
                self.wholes[article.id] = (article.key, whole)
            evidence, spans = self.evidence[article.id] = seed_evidence(matcher, article.title, article.text)
            # what training reads (the text, and a copy with its seed terms blanked when they are
            # strong evidence), and what the re-tag after it reads (the whole text's passages)
            more = [blank_spans(article.text, spans)] if any(ev.strong for ev in evidence.values()) else []
            read += [article.text, *more, *passages_of(whole)]
        self.analysed.add(read, analyzers.build(self.analysed.spec))
        self.last_id = rows[-1].id
        return len(rows)

    @cached_property
    def matcher(self) -> TermMatcher:
        """The topics' seed terms, compiled once, not at every look (0.03 s each)."""
        return TermMatcher.for_topics(self.topics)

    def text_of(self, row) -> StoredText:
        """The article as training reads it: prepared, unless its fields changed since."""
        hit = self.texts.get(row.id)
        if hit is not None and hit.key == stored_key(row.title, row.summary, row.content):
            return hit
        return StoredText.read(row)

    def evidence_of(self, article: StoredText, topics: tuple[Topic, ...]) -> tuple[dict[str, Evidence], list[tuple[int, int]]] | None:
        """The seed-term evidence prepared for this very text and taxonomy, else None."""
        if topics != self.topics or self.texts.get(article.id) is not article:
            return None
        return self.evidence.get(article.id)
