"""Feed documents -> stored, deduplicated articles; then tagging and alerts.

A document is stored whole in one write transaction (the poller's writer puts a few whole
documents in one): after a crash only whole documents remain, and a re-run stores what is
missing and nothing twice. How one document's articles are deduplicated and written is
`monitor.dedupe`'s; this module reads files, parses them, batches documents into
transactions and runs the hooks (tagging, alerts) on what was new.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from monitor.dedupe import KeyedArticle, store_items, with_guid_keys
from monitor.errors import InputError, MonitorError, ParseError, StoreError
from monitor.models import Article, IngestStats, ParsedFeed
from monitor.normalize import Limits, Rejected, normalize_entry
from monitor.parse import NormalizedFeed, parse_articles
from monitor.store import Database, utcnow
from monitor.store.schema import articles

log = logging.getLogger(__name__)

FEED_SUFFIXES = (".xml", ".rss", ".atom", ".rdf", ".feed")  # what a folder walk picks up
_HOOK_BATCH = 2000  # new articles handed to tagging/alerts at once by ingest_paths
_STORE_BATCH = 8  # parsed documents ingest_paths stores in one transaction, at most

Progress = Callable[[int, int, str], None]  # (documents done, documents total, current path)


@dataclass(frozen=True)
class DocumentToStore:
    """One parsed, normalised document for `store_documents`, with where it came from.

    The source (outlet) is `source`, else the feed's own title, else `default_source`;
    `fetched_at` defaults to now."""

    normalized: NormalizedFeed
    source: str | None = None
    feed_id: int | None = None
    fetched_at: datetime | None = None
    default_source: str | None = None


@dataclass
class _Prepared:
    """A document on its way into the store: its source name, its place in the caller's list
    (stored in source order, reported in the caller's), and the stats it fills in."""

    source: str
    order: int
    document: DocumentToStore
    fetched_at: datetime
    items: list[KeyedArticle]
    stats: IngestStats


def ingest_document(
    db: Database,
    body: bytes,
    *,
    source: str | None = None,
    feed_id: int | None = None,
    fetched_at: datetime | None = None,
    content_type: str | None = None,
    default_source: str | None = None,
) -> IngestStats:
    """Parse and normalise (in a sandboxed worker), deduplicate and store one feed document, then
    tag and alert on the new articles. Raises ParseError when the bytes are not a feed.

    The source (outlet) is `source`, else the feed's own title, else `default_source`."""
    fetched_at = _naive_utc(fetched_at) if fetched_at else utcnow()
    normalized = parse_articles(body, content_type, fetched_at=fetched_at)
    stats = store_normalized(db, normalized, source=source, feed_id=feed_id, fetched_at=fetched_at, default_source=default_source)
    run_hooks(db, stats.new_article_ids)
    if stats.new_article_ids:
        from monitor import classify

        classify.bring_up_to_date(db)
    return stats


def store_parsed(
    db: Database,
    parsed: ParsedFeed,
    *,
    source: str | None = None,
    feed_id: int | None = None,
    fetched_at: datetime | None = None,
    default_source: str | None = None,
) -> IngestStats:
    """Normalise (in this process), deduplicate and store an already parsed document (no hooks)."""
    from monitor.config import settings

    cap = settings().max_items_per_feed
    fetched_at = _naive_utc(fetched_at) if fetched_at else utcnow()
    limits = Limits.from_settings()
    rejected: dict[str, int] = {}
    if len(parsed.entries) > cap:
        rejected["over_item_cap"] = len(parsed.entries) - cap
    articles_: list[Article] = []
    for entry in parsed.entries[:cap]:
        try:
            articles_.append(
                normalize_entry(entry, fetched_at=fetched_at, feed_language=parsed.language, limits=limits, feed_published=parsed.published)
            )
        except Rejected as r:
            rejected[r.reason] = rejected.get(r.reason, 0) + 1
    meta = dataclasses.replace(parsed, entries=[])
    normalized = NormalizedFeed(feed=meta, entries=len(parsed.entries), articles=articles_, rejected=rejected)
    return store_normalized(db, normalized, source=source, feed_id=feed_id, fetched_at=fetched_at, default_source=default_source)


def store_normalized(
    db: Database,
    normalized: NormalizedFeed,
    *,
    source: str | None = None,
    feed_id: int | None = None,
    fetched_at: datetime | None = None,
    default_source: str | None = None,
) -> IngestStats:
    """Deduplicate and store a parsed, normalised document in one transaction (no hooks)."""
    document = DocumentToStore(normalized, source=source, feed_id=feed_id, fetched_at=fetched_at, default_source=default_source)
    return store_documents(db, [document])[0]


def store_documents(db: Database, documents: list[DocumentToStore]) -> list[IngestStats]:
    """Several documents in ONE write transaction, their stats in the same order. After a crash
    still only whole documents remain; a writer with documents queued pays one commit for them
    all (the poller's writer and `ingest_paths` do this). On PostgreSQL documents are stored in
    source order, so the per-source locks of two writers' batches cannot deadlock; on SQLite in
    the order given."""
    from monitor.config import settings

    window = timedelta(days=settings().title_dedup_days)
    prepared: list[_Prepared] = []
    for doc in documents:
        normalized = doc.normalized
        name = _source_name(doc.source, normalized.feed, doc.default_source)
        stats = IngestStats(documents=1, entries=normalized.entries, rejected=dict(normalized.rejected))
        if normalized.feed.warning:
            stats.warnings[name] = normalized.feed.warning
        fetched_at = _naive_utc(doc.fetched_at) if doc.fetched_at else utcnow()
        prepared.append(_Prepared(name, len(prepared), doc, fetched_at, with_guid_keys(normalized.articles), stats))
    # SQLite has no per-source locks (one writer at a time): the caller's order is kept
    todo = sorted((p for p in prepared if p.items), key=(lambda p: p.order) if db.is_sqlite else (lambda p: (p.source, p.order)))
    if todo:
        with db.write() as conn:
            for p in todo:
                stored = store_items(conn, db, p.items, p.source, p.document.feed_id, p.fetched_at, window)
                p.stats.new_articles = len(stored.new_ids)
                # repeats inside the document count as duplicates too, so the summary adds up
                p.stats.duplicates = stored.duplicates + len(p.document.normalized.articles) - len(p.items)
                p.stats.new_article_ids = stored.new_ids
    return [p.stats for p in prepared]


def run_hooks(db: Database, new_ids: list[int], timings: dict[str, float] | None = None) -> None:
    """Tag, then evaluate alerts on, freshly committed articles. Neither may break ingest.
    `timings` (if given) accumulates seconds under "tag" and "alerts" (the poller reports them)."""
    if not new_ids:
        return
    import time

    from monitor import alerts, classify

    def tag(db: Database, ids: list[int]) -> int:
        # no model yet: the articles wait for the run's end (classify.bring_up_to_date)
        return classify.tag_articles(db, ids, train_missing=False)

    for name, hook in (("tag", tag), ("alerts", alerts.evaluate_new_articles)):
        started = time.perf_counter()
        try:
            hook(db, list(new_ids))
        except MonitorError as e:  # the store refused (disk full, read-only): one line, no traceback
            log.error("%s failed after ingest: %s", hook.__module__, e)
        except Exception:  # their contract is never to raise; a bug there must not lose articles
            log.exception("%s failed after ingest", hook.__module__)
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - started


RESUME_AFTER = timedelta(minutes=10)  # younger untagged articles may be a live poller's batch in flight


def resume_hooks(db: Database, *, older_than: timedelta = RESUME_AFTER) -> int:
    """Tag and match against alerts the articles a stopped process stored but never got to
    (killed between committing a batch and running its hooks); returns how many.

    Pollers call it when they start. Both hooks are idempotent (a tag is replaced, an alert
    match recorded once), so overlapping a live poller costs time, never a duplicate alert."""
    cutoff = utcnow() - older_than
    with db.read() as conn:
        ids = list(
            conn.execute(
                select(articles.c.id).where(articles.c.tag_status == "pending", articles.c.fetched_at < cutoff).order_by(articles.c.id)
            ).scalars()
        )
    if ids:
        from monitor import classify

        classify.ensure_models(db)  # a store with no model yet trains one: these are not a run's batch
    for start in range(0, len(ids), 1000):
        run_hooks(db, ids[start : start + 1000])
    return len(ids)


def ingest_paths(
    db: Database,
    paths: Iterable[str | os.PathLike],
    source: str | None = None,
    progress: Progress | None = None,
    *,
    hooks: bool = True,
) -> IngestStats:
    """Ingest files and folders (recursively: files ending in .xml/.rss/.atom/.rdf/.feed).

    Documents that fail are counted with a one-line reason; the run goes on. Parsing runs in
    the worker pool ahead of storing, so both cores stay busy. New articles are handed to
    tagging and alerts in batches (`hooks=False` leaves them pending, e.g. for a bulk load
    followed by `tag --all`)."""
    from monitor.config import settings
    from monitor.parse_workers import pool_size

    files = list(_expand(paths))
    max_bytes = settings().max_body_bytes
    lookahead = pool_size() + _STORE_BATCH  # parsed documents waiting to be stored, at most
    if hooks:
        _prewarm_training(db)
    try:
        return _ingest_files(db, files, source, progress, hooks, max_bytes, lookahead)
    finally:
        if hooks:
            from monitor.classify import upkeep

            upkeep.release_warm()


def _prewarm_training(db: Database) -> None:
    """A store with no models trains them when the run ends: start the training child now, so
    it has loaded scikit-learn by then (monitor.classify.upkeep.prewarm)."""
    try:
        from monitor.classify import upkeep
        from monitor.classify.modelstore import active_version

        if any(active_version(db, kind) is None for kind in ("topics", "stance")):
            upkeep.prewarm(db)
    except Exception:  # only a head start: the training at the end starts its own child
        log.debug("could not start the training child early", exc_info=True)


def _ingest_files(
    db: Database, files: list[Path], source: str | None, progress: Progress | None, hooks: bool, max_bytes: int, lookahead: int
) -> IngestStats:
    from monitor.parse_workers import pool_size

    total = len(files)
    stats = IngestStats()
    pending_hooks: list[int] = []
    with ThreadPoolExecutor(max_workers=pool_size(), thread_name_prefix="parse") as executor:
        futures: list[tuple[Path, Future]] = []
        it = iter(files)
        done = 0

        def refill() -> None:
            while len(futures) < lookahead:
                path = next(it, None)
                if path is None:
                    return
                futures.append((path, executor.submit(_read_and_parse, path, max_bytes)))

        refill()
        while futures:
            # The documents already parsed go in one transaction: a commit (an fsync) per few
            # documents, not per document; each is still stored whole or not at all.
            batch = [futures.pop(0)]
            while futures and len(batch) < _STORE_BATCH and futures[0][1].done():
                batch.append(futures.pop(0))
            refill()
            results: dict[Path, IngestStats] = {}
            ready: list[tuple[Path, DocumentToStore]] = []
            for path, future in batch:
                try:
                    normalized, fetched_at = future.result()
                except (ParseError, InputError) as e:
                    failed = results[path] = IngestStats(documents=1)
                    failed.failed_documents[str(path)] = _reason_line(e)
                    continue
                ready.append((path, DocumentToStore(normalized, source=source, fetched_at=fetched_at, default_source=path.stem)))
            for run in _runs_in_store_order(db, ready):
                try:
                    stored = store_documents(db, [document for _path, document in run])
                except StoreError as e:  # disk full, read-only, locked: stop, saying what is already safe
                    for _path, pending in futures:
                        pending.cancel()
                    for one in results.values():  # the batch's runs before this one are safe
                        stats.add(one)
                    raise _stopped(e, f"storing {run[0][0]}", stats) from None
                for (path, _document), one in zip(run, stored):
                    one.warnings = {str(path): w for w in one.warnings.values()}
                    results[path] = one
            for path, _future in batch:
                one = results[path]
                stats.add(one)
                pending_hooks.extend(one.new_article_ids)
                if hooks and len(pending_hooks) >= _HOOK_BATCH:
                    try:
                        run_hooks(db, pending_hooks)
                    except StoreError as e:
                        for _path, pending in futures:
                            pending.cancel()
                        raise _stopped(e, "tagging new articles", stats) from None
                    pending_hooks = []
                done += 1
                if progress:
                    progress(done, total, str(path))
    if hooks:
        try:
            run_hooks(db, pending_hooks)
        except StoreError as e:
            raise _stopped(e, "tagging new articles", stats) from None
        from monitor import classify

        classify.bring_up_to_date(db)  # train what the run's archive needs, then tag what waits
    return stats


def _runs_in_store_order(db: Database, ready: list[tuple[Path, DocumentToStore]]) -> list[list[tuple[Path, DocumentToStore]]]:
    """The documents split into transactions that store them in the order given, so the same
    files give the same articles (which copy of a story is kept, its id) however the parsing
    was timed. One run on SQLite; on PostgreSQL, runs of ascending source, the order in which
    `store_documents` takes its per-source locks."""
    if db.is_sqlite:
        return [ready] if ready else []
    runs: list[list[tuple[Path, DocumentToStore]]] = []
    last = None
    for item in ready:
        name = _source_name(item[1].source, item[1].normalized.feed, item[1].default_source)
        if not runs or (last is not None and name < last):
            runs.append([])
        runs[-1].append(item)
        last = name
    return runs


def _stopped(e: StoreError, doing: str, stats: IngestStats) -> StoreError:
    """The one line an ingest that the store stopped ends with: what failed, and what is safe.
    Articles stored but not yet tagged are tagged by the next poll (resume_hooks)."""
    stored = stats.documents - len(stats.failed_documents)
    return StoreError(
        f"{e} while {doing}; {stored} document{'s' if stored != 1 else ''} ({stats.new_articles} new articles) "
        "were stored before that and are kept: run the same ingest again once it is fixed, stored articles are "
        "recognised and skipped"
    )


# --------------------------------------------------------------------------------------------


def _read_and_parse(path: Path, max_bytes: int) -> tuple[NormalizedFeed, datetime]:
    try:
        with open(path, "rb") as f:
            body = f.read(max_bytes + 1)
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}") from None
    if len(body) > max_bytes:
        raise ParseError(f"larger than {max_bytes} bytes (MONITOR_MAX_BODY_BYTES)", reason="too_large")
    fetched_at = utcnow()
    return parse_articles(body, fetched_at=fetched_at), fetched_at


def _reason_line(e: Exception) -> str:
    reason = getattr(e, "reason", None)
    message = str(e).splitlines()[0] if str(e) else type(e).__name__
    return f"{reason}: {message}" if reason and not message.startswith(reason) else message


def _expand(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in FEED_SUFFIXES and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            found = [path]
        else:
            raise InputError(f"no such file or folder: {raw}")
        for p in found:
            if p not in seen:
                seen.add(p)
                yield p


def _source_name(source: str | None, parsed: ParsedFeed, default_source: str | None) -> str:
    from monitor.normalize import plain_text

    for candidate in (source, parsed.title, default_source):
        name = plain_text(candidate, 200) if candidate else ""
        if name:
            return name
    return "unknown"


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value
