"""The feed list: add, list, remove, OPML in and out, the shipped default feeds, feed health.

The CLI (`feeds …`) and the dashboard's Feeds page are thin layers over these functions.
URLs go through `monitor.netguard.validate_feed_url`, so what is stored is http(s) and (unless
private networks are allowed) not aimed at the host's own network.
"""

from __future__ import annotations

import xml.parsers.expat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree as ET

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from monitor.errors import InputError
from monitor.netguard import validate_feed_url
from monitor.store import Database, utcnow
from monitor.store.schema import articles, feeds, fetch_events, meta

DEFAULT_FEEDS_OPML = Path(__file__).with_name("default_feeds.opml")
MAX_OPML_BYTES = 20 * 1024 * 1024  # 10 000 outlines are ~2 MB; anything far bigger is not a reading list
MAX_NAME_CHARS = 300
MAX_TAG_CHARS = 64
SEEDED_KEY = "default_feeds_seeded"


@dataclass(frozen=True)
class FeedRow:
    """One feed with its health, as the Feeds page and `feeds list` show it."""

    id: int
    url: str
    name: str | None
    tags: tuple[str, ...]
    enabled: bool
    status: str
    disabled_reason: str | None
    created_at: datetime | None
    last_fetch_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    error_count: int
    last_error_reason: str | None
    last_error: str | None
    next_poll_at: datetime | None
    poll_interval_s: int | None

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["tags"] = list(self.tags)
        return d


@dataclass(frozen=True)
class FetchEventRow:
    """One fetch of a feed: what happened, how long it took, what it brought."""

    feed_id: int
    at: datetime
    outcome: str  # ok|not_modified|unchanged|SOFT|HARD|TEMP
    http_status: int | None
    reason: str | None
    detail: str | None
    duration_ms: int | None
    entries: int | None
    new_articles: int | None


def _row(r) -> FeedRow:
    return FeedRow(
        id=r.id,
        url=r.url,
        name=r.name,
        tags=tuple(r.tags or ()),
        enabled=bool(r.enabled),
        status=r.status,
        disabled_reason=r.disabled_reason,
        created_at=r.created_at,
        last_fetch_at=r.last_fetch_at,
        last_success_at=r.last_success_at,
        consecutive_failures=r.consecutive_failures or 0,
        error_count=r.error_count or 0,
        last_error_reason=r.last_error_reason,
        last_error=r.last_error,
        next_poll_at=r.next_poll_at,
        poll_interval_s=r.poll_interval_s,
    )


def _clean_name(name: str | None) -> str | None:
    if name is None:
        return None
    name = " ".join(str(name).split())[:MAX_NAME_CHARS]
    return name or None


def _clean_tags(tags) -> list[str]:
    out: list[str] = []
    for tag in tags or ():
        tag = " ".join(str(tag).split())[:MAX_TAG_CHARS]
        if tag and tag not in out:
            out.append(tag)
    return out


def _new_feed_values(url: str, name, tags, added_by, now: datetime) -> dict:
    return {
        "url": url,
        "name": _clean_name(name),
        "tags": _clean_tags(tags),
        "added_by": added_by,
        "created_at": now,
        "enabled": True,
        "status": "new",
        "consecutive_failures": 0,
        "error_count": 0,
        "redirect_count": 0,
        "next_poll_at": now,
    }


def add_feed(db: Database, url: str, name: str | None = None, tags=(), allow_private: bool = False, added_by: str | None = None) -> int:
    """Add a feed and return its id; InputError for a bad, non-public or already-listed URL."""
    cleaned = validate_feed_url(url, allow_private=allow_private)
    try:
        with db.write() as conn:
            existing = conn.execute(select(feeds.c.id).where(feeds.c.url == cleaned)).scalar()
            if existing is not None:
                raise InputError(f"{cleaned} is already in the feed list (feed {existing})")
            result = conn.execute(insert(feeds).values(**_new_feed_values(cleaned, name, tags, added_by, utcnow())))
            assert result.inserted_primary_key is not None  # None only for a multi-row insert
            return int(result.inserted_primary_key[0])
    except IntegrityError:  # added by someone else at the same moment (PostgreSQL)
        raise InputError(f"{cleaned} is already in the feed list") from None


def list_feeds(db: Database) -> list[FeedRow]:
    with db.read() as conn:
        return [_row(r) for r in conn.execute(select(feeds).order_by(feeds.c.id))]


def feed_health(db: Database) -> list[FeedRow]:
    """Feeds with their health, failing and disabled first, for the Feeds page."""
    order = {"failing": 0, "disabled": 1, "new": 2, "ok": 3}
    return sorted(list_feeds(db), key=lambda f: (order.get(f.status, 4), -(f.consecutive_failures), f.id))


def recent_fetch_events(db: Database, feed_id: int, limit: int = 30) -> list[FetchEventRow]:
    """The last fetches of one feed, newest first (the poller keeps about 30 per feed)."""
    with db.read() as conn:
        rows = conn.execute(
            select(fetch_events).where(fetch_events.c.feed_id == feed_id).order_by(fetch_events.c.id.desc()).limit(limit)
        )
        return [
            FetchEventRow(r.feed_id, r.at, r.outcome, r.http_status, r.reason, r.detail, r.duration_ms, r.entries, r.new_articles)
            for r in rows
        ]


def _find(conn, id_or_url) -> int | None:
    text = str(id_or_url).strip()
    if text.isdigit():
        found = conn.execute(select(feeds.c.id).where(feeds.c.id == int(text))).scalar()
        if found is not None:
            return int(found)
    found = conn.execute(select(feeds.c.id).where(feeds.c.url == text)).scalar()
    if found is None:
        try:
            cleaned = validate_feed_url(text, allow_private=True)
        except InputError:
            return None
        found = conn.execute(select(feeds.c.id).where(feeds.c.url == cleaned)).scalar()
    return None if found is None else int(found)


def remove_feed(db: Database, id_or_url) -> int:
    """Remove a feed by id or URL and return its id. Its articles stay in the archive."""
    with db.write() as conn:
        feed_id = _find(conn, id_or_url)
        if feed_id is None:
            raise InputError(f"no feed with id or URL {str(id_or_url)!r}")
        conn.execute(delete(fetch_events).where(fetch_events.c.feed_id == feed_id))
        conn.execute(delete(feeds).where(feeds.c.id == feed_id))
        return feed_id


def set_feed_enabled(db: Database, id_or_url, enabled: bool) -> int:
    """Re-enable a disabled feed (e.g. after a 410 was a mistake) or pause one."""
    with db.write() as conn:
        feed_id = _find(conn, id_or_url)
        if feed_id is None:
            raise InputError(f"no feed with id or URL {str(id_or_url)!r}")
        values = (
            {"enabled": True, "status": "new", "disabled_reason": None, "consecutive_failures": 0, "next_poll_at": utcnow()}
            if enabled
            else {"enabled": False, "status": "disabled", "disabled_reason": "paused by an analyst"}
        )
        conn.execute(update(feeds).where(feeds.c.id == feed_id).values(**values))
        return feed_id


# --- OPML -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpmlOutline:
    url: str
    name: str | None
    tags: tuple[str, ...]


def parse_opml(data: bytes) -> list[OpmlOutline]:
    """Feed outlines of an OPML document. Documents with a DTD or entity declarations are refused.

    expat is driven directly so that a DOCTYPE stops the parse before any entity is declared or
    expanded (billion laughs, external SYSTEM entities); outlines are collected in one pass, so
    10 000 feeds take linear time and little memory.
    """
    if len(data) > MAX_OPML_BYTES:
        raise InputError(f"the OPML file is larger than {MAX_OPML_BYTES // (1024 * 1024)} MB")

    class _Refused(Exception):
        pass

    outlines: list[OpmlOutline] = []
    stack: list[str | None] = []  # titles of enclosing category outlines
    saw_opml = False

    def refuse(*_args):
        raise _Refused()

    def start(tag, attrs):
        nonlocal saw_opml
        local = tag.rsplit(" ", 1)[-1].lower()
        if local == "opml":
            saw_opml = True
        if local != "outline":
            return
        url = attrs.get("xmlUrl") or attrs.get("xmlurl")
        if not url and attrs.get("type", "").lower() in ("rss", "atom"):
            url = attrs.get("url")
        title = attrs.get("title") or attrs.get("text")
        if url:
            tags = [t for t in stack if t]
            tags += [c.strip().strip("/") for c in (attrs.get("category") or "").split(",") if c.strip().strip("/")]
            outlines.append(OpmlOutline(url=url.strip(), name=title, tags=tuple(tags)))
            stack.append(None)
        else:
            stack.append(title)

    def end(tag):
        if tag.rsplit(" ", 1)[-1].lower() == "outline" and stack:
            stack.pop()

    parser = xml.parsers.expat.ParserCreate()
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except _Refused:
        raise InputError("OPML files with a DTD or entity declarations are refused (they can expand without bound)") from None
    except xml.parsers.expat.ExpatError as e:
        raise InputError(f"not a readable OPML file: {xml.parsers.expat.ErrorString(e.code)} at line {e.lineno}") from None
    if not saw_opml:
        raise InputError("not an OPML file (no <opml> element)")
    return outlines


def _read_opml(path_or_bytes) -> bytes:
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return bytes(path_or_bytes)
    path = Path(path_or_bytes)
    try:
        if path.stat().st_size > MAX_OPML_BYTES:
            raise InputError(f"{path} is larger than {MAX_OPML_BYTES // (1024 * 1024)} MB")
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not an OPML file") from None
    except PermissionError:
        raise InputError(f"cannot read {path}: permission denied") from None


@dataclass(frozen=True)
class SkippedOutline:
    """An OPML entry that was not added, and why."""

    url: str
    name: str | None
    reason: str


@dataclass(frozen=True)
class OpmlImport:
    added: int
    skipped: list[SkippedOutline]


def import_opml(db: Database, path_or_bytes, allow_private: bool = False, added_by: str | None = None) -> tuple[int, int]:
    """Add every feed of an OPML file; returns (added, skipped). Skipped: invalid or already listed."""
    report = import_opml_report(db, path_or_bytes, allow_private=allow_private, added_by=added_by)
    return report.added, len(report.skipped)


def import_opml_report(db: Database, path_or_bytes, allow_private: bool = False, added_by: str | None = None) -> OpmlImport:
    """Add every feed of an OPML file; says which entries were skipped and why.

    URLs are checked without DNS lookups (10 000 lookups would take minutes); the fetch guard
    checks every address at connect time anyway.
    """
    outlines = parse_opml(_read_opml(path_or_bytes))
    return _insert_outlines(db, outlines, allow_private=allow_private, added_by=added_by)


def _insert_outlines(db: Database, outlines: list[OpmlOutline], *, allow_private: bool, added_by: str | None) -> OpmlImport:
    now = utcnow()
    skipped: list[SkippedOutline] = []
    wanted: dict[str, dict] = {}
    names: dict[str, str | None] = {}
    for o in outlines:
        try:
            url = validate_feed_url(o.url, allow_private=allow_private, resolve=False)
        except InputError as e:
            skipped.append(SkippedOutline(o.url, o.name, str(e)))
            continue
        if url in wanted:
            skipped.append(SkippedOutline(o.url, o.name, "listed twice in this file"))
            continue
        wanted[url] = _new_feed_values(url, o.name, o.tags, added_by, now)
        names[url] = o.name
    with db.write() as conn:
        existing = set(conn.execute(select(feeds.c.url)).scalars())
        rows = [v for u, v in wanted.items() if u not in existing]
        skipped += [SkippedOutline(u, names[u], "already in the feed list") for u in wanted if u in existing]
        for start in range(0, len(rows), 500):
            conn.execute(insert(feeds), rows[start : start + 500])
    return OpmlImport(len(rows), skipped)


def export_opml(db: Database) -> bytes:
    """All feeds as an OPML 2.0 document (tags become the `category` attribute)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = "Media monitor feeds"
    ET.SubElement(head, "dateCreated").text = utcnow().strftime("%a, %d %b %Y %H:%M:%S GMT")
    body = ET.SubElement(root, "body")
    for f in list_feeds(db):
        attrs = {"type": "rss", "text": f.name or f.url, "xmlUrl": f.url}
        if f.name:
            attrs["title"] = f.name
        if f.tags:
            attrs["category"] = ",".join(f.tags)
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def seed_default_feeds(db: Database) -> int:
    """Add the shipped feeds to an empty store (no feeds, no articles); returns how many were added.

    Runs once per store (remembered in `meta`), so an analyst who removes the defaults does not
    get them back on the next start.
    """
    outlines = parse_opml(DEFAULT_FEEDS_OPML.read_bytes())
    now = utcnow()
    try:
        with db.write() as conn:
            if conn.execute(select(meta.c.value).where(meta.c.key == SEEDED_KEY)).scalar() is not None:
                return 0
            has_feeds = conn.execute(select(func.count()).select_from(feeds)).scalar()
            # An archive made by ingesting files is someone's research set: unrelated default
            # feeds polled into it would mix its coverage. Only an empty store is seeded.
            has_articles = conn.execute(select(articles.c.id).limit(1)).first() is not None
            conn.execute(insert(meta).values(key=SEEDED_KEY, value=now.isoformat()))
            if has_feeds or has_articles:
                return 0
            rows: dict[str, dict] = {}
            for o in outlines:
                url = validate_feed_url(o.url, allow_private=False, resolve=False)
                rows.setdefault(url, _new_feed_values(url, o.name, o.tags, "default feeds", now))
            if rows:
                conn.execute(insert(feeds), list(rows.values()))
            return len(rows)
    except IntegrityError:
        return 0  # another process seeded at the same moment


# --- every source the archive holds -----------------------------------------------------------


@dataclass(frozen=True)
class ArchiveSource:
    """An outlet with articles in the archive, and whether a listed feed still brings it."""

    source: str
    articles: int
    newest: datetime | None
    feed_ids: tuple[int, ...]  # listed feeds that brought its articles; empty when ingested from files

    @property
    def polled(self) -> bool:
        return bool(self.feed_ids)


def archive_sources(db: Database, limit: int = 5000) -> list[ArchiveSource]:
    """Every source in the archive (most articles first), polled or ingested from files."""
    listed = select(feeds.c.id)
    with db.read() as conn:
        rows = conn.execute(
            select(articles.c.source, func.count(), func.max(articles.c.published_at))
            .group_by(articles.c.source)
            .order_by(func.count().desc(), articles.c.source)
            .limit(limit)
        ).all()
        polled: dict[str, set[int]] = {}
        for source, feed_id in conn.execute(
            select(articles.c.source, articles.c.feed_id).where(articles.c.feed_id.in_(listed)).distinct()
        ):
            polled.setdefault(source, set()).add(int(feed_id))
    return [ArchiveSource(source, int(n), newest, tuple(sorted(polled.get(source, ())))) for source, n, newest in rows]


@dataclass(frozen=True)
class FeedTrouble:
    """When every enabled feed is failing: how many, and the commonest reasons."""

    feeds: int
    reasons: list[tuple[str, int]]  # (reason, feeds), commonest first

    def explain(self) -> str:
        """What the commonest reason usually means, for the banner and the server log."""
        top = self.reasons[0][0] if self.reasons else ""
        if top in ("dns_unknown_host", "dns_temporary"):
            return "no feed host name resolves: this machine has no network or DNS (behind a proxy, set HTTPS_PROXY / HTTP_PROXY)"
        if top in ("connect_failed", "timeout", "network_error", "tls"):
            return "no feed server can be reached: check the network, a firewall or the proxy settings (HTTPS_PROXY / HTTP_PROXY)"
        if top == "blocked_address":
            return "every feed resolves to a private address, which the address guard refuses"
        return "see each feed's last error on the Feeds page"


def all_feeds_failing(db: Database) -> FeedTrouble | None:
    """A FeedTrouble when every enabled feed has been fetched and is failing, else None."""
    with db.read() as conn:
        total, failing = conn.execute(
            select(func.count(), func.count().filter(feeds.c.status == "failing")).where(feeds.c.enabled.is_(True))
        ).one()
        if not total or failing < total:
            return None
        reasons = conn.execute(
            select(feeds.c.last_error_reason, func.count())
            .where(feeds.c.enabled.is_(True))
            .group_by(feeds.c.last_error_reason)
            .order_by(func.count().desc())
        ).all()
    return FeedTrouble(int(total), [(r or "unknown", int(n)) for r, n in reasons])
