"""One schema for SQLite and PostgreSQL (SQLAlchemy Core). Times are naive UTC everywhere.

Changing a table here needs a migration in `monitor/store/migrations/versions/`.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

metadata = MetaData()

feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", String(2048), nullable=False, unique=True),
    Column("name", Text),
    Column("tags", JSON, nullable=False, default=list),
    Column("added_by", Text),
    Column("created_at", DateTime, nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("disabled_reason", Text),
    # health, filled by the poller
    Column("status", String(16), nullable=False, default="new"),  # new|ok|failing|disabled
    Column("last_fetch_at", DateTime),
    Column("last_success_at", DateTime),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("error_count", Integer, nullable=False, default=0),
    Column("last_error_reason", String(64)),  # fixed, low-cardinality reason
    Column("last_error", Text),  # human detail
    Column("next_poll_at", DateTime),
    Column("poll_interval_s", Integer),
    # conditional GET and unchanged-body detection
    Column("etag", Text),
    Column("last_modified", Text),
    Column("body_hash", String(64)),
    # permanent redirects are only followed into `url` once they are consistent
    Column("redirect_url", String(2048)),
    Column("redirect_count", Integer, nullable=False, default=0),
    # lease: which poller holds the feed, until when
    Column("lease_owner", String(128)),
    Column("lease_until", DateTime),
    Index("ix_feeds_due", "enabled", "next_poll_at"),
)

fetch_events = Table(
    "fetch_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("outcome", String(16), nullable=False),  # ok|not_modified|unchanged|SOFT|HARD|TEMP
    Column("http_status", Integer),
    Column("reason", String(64)),
    Column("detail", Text),
    Column("duration_ms", Integer),
    Column("entries", Integer),
    Column("new_articles", Integer),
    Index("ix_fetch_events_feed_at", "feed_id", "at"),
    Index("ix_fetch_events_at", "at"),
)

articles = Table(
    "articles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url_key", String(2048), unique=True),  # normalised URL; NULL when the item had none
    Column("link", String(2048)),  # http(s) only, as published
    Column("guid", Text),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("content", Text, nullable=False, default=""),
    Column("author", Text),
    Column("source", Text, nullable=False),  # outlet name (the feed's name or title)
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="SET NULL")),  # first seen in
    Column("published_at", DateTime, nullable=False),
    Column("fetched_at", DateTime, nullable=False),
    # True when the item had no readable date: published_at is the feed's date or the fetch time
    Column("date_estimated", Boolean, nullable=False, default=False, server_default=false()),
    Column("lang", String(8)),
    Column("title_hash", String(32), nullable=False),
    Column("tag_status", String(16), nullable=False, default="pending"),  # pending|tagged|failed
    Column("tag_error", Text),
    Index("ix_articles_published_at", "published_at"),
    Index("ix_articles_source_published", "source", "published_at"),
    Index("ix_articles_title_hash", "source", "title_hash"),
    Index("ix_articles_tag_status", "tag_status"),
)

# Every time a story is seen in a feed. (feed_id, guid_key) makes re-polling idempotent.
sightings = Table(
    "sightings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE")),
    Column("source", Text, nullable=False),
    Column("guid_key", String(64), nullable=False),  # hash of guid, else link, else title
    Column("first_seen_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    UniqueConstraint("source", "guid_key", name="uq_sightings_source_guid"),
    Index("ix_sightings_article", "article_id"),
)

# Machine tags: topics (label = topic name, target = '') and stance (label = FAVOR|AGAINST|NONE).
# published_at is copied from the article so coverage counts need no join at a million rows.
tags = Table(
    "tags",
    metadata,
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(8), primary_key=True),  # topic|stance
    Column("target", String(128), primary_key=True, default=""),
    Column("label", String(64), primary_key=True),
    Column("score", Float, nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("published_at", DateTime, nullable=False),
    Index("ix_tags_kind_label_published", "kind", "label", "published_at"),
    Index("ix_tags_kind_target_published", "kind", "target", "published_at"),
    # stance over time per target and label: one index range count per day (monitor.coverage)
    Index("ix_tags_kind_target_label_published", "kind", "target", "label", "published_at"),
)

# What analysts said: training labels. value is 1 (has this topic / has this stance) or 0 (not).
labels = Table(
    "labels",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE")),
    Column("text", Text),  # for labels imported from CSV without an article
    Column("kind", String(8), nullable=False),
    Column("target", String(128), nullable=False, default=""),
    Column("label", String(64), nullable=False),
    Column("value", Integer, nullable=False, default=1),
    Column("analyst", Text),
    Column("created_at", DateTime, nullable=False),
    Column("used_in_version", String(64)),  # NULL: waiting for the next training
    Index("ix_labels_kind", "kind", "target"),
)

# Topics and stance targets that analysts added on top of the shipped taxonomy file.
taxonomy_entries = Table(
    "taxonomy_entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(8), nullable=False),  # topic|target
    Column("name", String(128), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("terms", JSON, nullable=False, default=list),  # seed terms or aliases
    Column("added_by", Text),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("kind", "name", name="uq_taxonomy_kind_name"),
)

# Trained models, stored as numpy archives (never pickle) so every poller shares them.
classifier_models = Table(
    "classifier_models",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),  # topics|stance
    Column("version", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("active", Boolean, nullable=False, default=False),
    Column("blob", LargeBinary, nullable=False),
    Column("metrics", JSON, nullable=False, default=dict),
    Column("training", JSON, nullable=False, default=dict),  # data summary: sources, counts
    Index("ix_classifier_models_kind_active", "kind", "active"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("kind", String(8), nullable=False, default="keyword"),  # keyword|spike
    Column("query", Text, nullable=False, default=""),
    # the other filters, as monitor.filters' URL parameters ({"topic": ["interpol"], "stance": ...})
    Column("filters", JSON, nullable=False, default=dict, server_default=text("'{}'")),
    Column("notify", JSON, nullable=False, default=list),  # Apprise URLs
    Column("cadence", String(16), nullable=False, default="immediate"),  # immediate|hourly|daily
    Column("sensitivity", Float),  # spike alerts: how many deviations above baseline
    Column("owner", Text),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    # delivery may reach private addresses (`alerts add --allow-private-networks`), recorded once
    Column("allow_private_networks", Boolean, nullable=False, default=False, server_default=false()),
)

# The inbox: one row per alert and article (or spike day), ever. The unique (alert_id, match_key)
# is what makes an alert fire once: match_key is "a<article id>" or "d<YYYY-MM-DD>" (never NULL,
# because NULLs never collide in a unique key on either database).
alert_matches = Table(
    "alert_matches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("match_key", String(32), nullable=False),
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE")),
    Column("day", DateTime),  # spike alerts: the day that spiked
    Column("detail", Text),
    Column("held_reason", Text),  # spike alerts: why it was not delivered (feed failures)
    Column("matched_at", DateTime, nullable=False),
    Column("state", String(16), nullable=False, default="new"),  # new|reviewed
    Column("batch", String(64)),  # the outbox message it went out in; NULL: not queued (yet)
    UniqueConstraint("alert_id", "match_key", name="uq_alert_matches"),
    Index("ix_alert_matches_state", "state", "matched_at"),
    Index("ix_alert_matches_alert_batch", "alert_id", "batch"),
)

# The outbox: one message per alert, target and batch, retried until sent. (alert_id, target,
# batch) is unique, so queueing a message twice is impossible.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("target", Text, nullable=False),  # the Apprise URL, secrets included: never displayed
    Column("target_display", Text, nullable=False),  # Apprise's privacy form, for UI and logs
    Column("batch", String(64), nullable=False),
    Column("match_count", Integer, nullable=False, default=0),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False, default="queued"),  # queued|sending|sent|cancelled
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("last_error", Text),
    Column("created_at", DateTime, nullable=False),
    Column("sent_at", DateTime),
    Column("lease_owner", String(128)),
    Column("lease_until", DateTime),
    UniqueConstraint("alert_id", "target", "batch", name="uq_deliveries_batch"),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
)

saved_views = Table(
    "saved_views",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("owner", Text),
    Column("params", JSON, nullable=False, default=dict),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("owner", "name", name="uq_saved_views_owner_name"),
)

# Small facts about the store itself (e.g. whether the default feeds were seeded).
meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text),
)
