"""Feed bytes -> `ParsedFeed`, with feedparser confined to worker processes.

feedparser is the only parser we trust with RSS/Atom's many dialects, and the one we trust least
with hostile bytes: crafted entities blow it up quadratically (62 KB -> 600 MB) and a long
`<author>` can pin a core for seconds. So it never runs in our process: this module is both
sides of one exchange with a worker (`monitor.parse_workers` runs the workers):

- the parent's `parse_feed` / `parse_articles` send a `ParseRequest` and turn the reply into
  records; the worker's `_worker_main` parses (and normalises, when asked) under its memory limit;
- only primitives cross the pipe (`marshal`, never pickle), so a confused worker cannot make the
  parent run code. Requests and replies are typed records (`ParseRequest`, `NormalizeOptions`,
  `ParsedFeed`, `NormalizedFeed`) packed and unpacked by field (`monitor.wire`): a value of the
  wrong type is refused, never shifted into another field.

feedparser is given bytes only: handed a `str` it would open a local path or `file://` URL.
"""

from __future__ import annotations

import calendar
import dataclasses
import marshal
import os
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TypeVar

from monitor.dates import EARLIEST_DATE
from monitor.errors import ParseError
from monitor.models import Article, Entry, ParsedFeed
from monitor.normalize import Limits
from monitor.parse_workers import FRAME, pool
from monitor.wire import WireError, pack, unpack

T = TypeVar("T")

_STRING_CAP = 4_000_000  # chars per field shipped back; normalisation truncates far below this


def parse_feed(
    body: bytes, content_type: str | None = None, *, timeout_s: float | None = None, memory_mb: int | None = None
) -> ParsedFeed:
    """Parse one feed document in a sandboxed worker. Raises ParseError(reason=...) when it is not a
    feed we can read (not XML/a feed at all, or the worker hit its memory or time limit).

    `timeout_s` and `memory_mb` default to MONITOR_PARSE_TIMEOUT_S and MONITOR_PARSE_MEMORY_MB."""
    body = _checked_body(body)
    from monitor.config import settings

    cfg = settings()
    if timeout_s is None:
        timeout_s = cfg.parse_timeout_s
    reply = pool().run(ParseRequest(body, content_type or ""), timeout_s, memory_mb or cfg.parse_memory_mb)
    return _reply_record(reply, "feed", ParsedFeed)


def _checked_body(body) -> bytes:
    """The document's bytes, refused before any worker sees them when empty or entity-bombed."""
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise TypeError("the parser takes the document's bytes, never a str or path")
    body = bytes(body)
    if not body.strip():
        raise ParseError("the document is empty", reason="empty")
    # The check reads the decoded text: a UTF-16 or UTF-32 document has no "<!ENTITY" bytes.
    text = _as_utf8(body)
    if b"<!ENTITY" in text or b"<!entity" in text:
        _check_entity_expansion(text)
    return body


_WIDE_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le"),
)
_WIDE_STARTS = ((b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"), (b"\x00<", "utf-16-be"), (b"<\x00", "utf-16-le"))


def _as_utf8(body: bytes) -> bytes:
    """The document as UTF-8 bytes when it is in a wide encoding (by BOM, or by the zero bytes
    around its first "<"), for checks that look for ASCII markup; else the bytes as they are."""
    for marks in (_WIDE_BOMS, _WIDE_STARTS):
        for mark, encoding in marks:
            if body.startswith(mark):
                return body.decode(encoding, errors="replace").lstrip("\ufeff").encode("utf-8")
    return body


@dataclass(frozen=True)
class NormalizedFeed:
    """A document parsed and normalised inside the worker: the feed's own fields (`feed`, whose
    `entries` is empty), how many entries it had, the articles made of them and the rejections."""

    feed: ParsedFeed
    entries: int
    articles: list[Article]
    rejected: dict[str, int]


@dataclass(frozen=True)
class NormalizeOptions:
    """What the worker needs to normalise the entries it parsed (`parse_articles`)."""

    fetched_at: datetime
    max_items: int
    limits: Limits


@dataclass(frozen=True)
class ParseRequest:
    """One document for a worker; with `normalize`, it normalises the entries too."""

    body: bytes
    content_type: str
    normalize: NormalizeOptions | None = None


def parse_articles(
    body: bytes,
    content_type: str | None = None,
    *,
    fetched_at: datetime,
    limits: Limits | None = None,
    max_items: int | None = None,
    timeout_s: float | None = None,
    memory_mb: int | None = None,
) -> NormalizedFeed:
    """`parse_feed` followed by `normalize_entry` on each of the first `max_items` entries, all in
    the worker: nh3 then meets hostile HTML under the same limits as feedparser, and normalising
    runs on as many cores as there are workers instead of in the caller's one thread."""
    body = _checked_body(body)
    from monitor.config import settings

    cfg = settings()
    options = NormalizeOptions(
        fetched_at=_naive(fetched_at),
        max_items=max_items if max_items is not None else cfg.max_items_per_feed,
        limits=limits or Limits.from_settings(),
    )
    reply = pool().run(
        ParseRequest(body, content_type or "", options),
        cfg.parse_timeout_s if timeout_s is None else timeout_s,
        memory_mb or cfg.parse_memory_mb,
    )
    return _reply_record(reply, "normalized", NormalizedFeed)


def _naive(value: datetime) -> datetime:
    """The fetch time as the worker's normaliser takes it: naive, its wall-clock fields as given."""
    return value.replace(tzinfo=None)


MAX_ENTITY_EXPANSION = 1_000_000  # characters that a document's own entities may expand to

_ENTITY_DECL = re.compile(rb"""<!ENTITY\s+(%?\s*[\w.:-]+)\s+(?:"([^"]*)"|'([^']*)')""", re.I)
_ENTITY_REF = re.compile(rb"&([\w.:-]+);")


def _check_entity_expansion(body: bytes) -> None:
    """Refuse documents whose declared entities would expand past MAX_ENTITY_EXPANSION: feedparser
    turns a 10 KB document of nested `&a;` references into megabytes and spends seconds on it.
    Expat caps billion laughs itself; this catches the quadratic case before a worker burns on it."""
    values = {}
    for m in _ENTITY_DECL.finditer(body):
        values[m.group(1).strip()] = m.group(2) if m.group(2) is not None else m.group(3)
    if not values:
        return
    sizes: dict[bytes, int] = {}

    def size(name: bytes, depth: int = 0) -> int:
        if name in sizes:
            return sizes[name]
        if depth > 20 or name not in values:
            return len(name) + 2
        total = len(values[name])
        for ref in _ENTITY_REF.findall(values[name]):
            total += size(ref, depth + 1)
            if total > MAX_ENTITY_EXPANSION:
                break
        sizes[name] = total
        return total

    expanded = 0
    for ref in _ENTITY_REF.findall(body):
        if ref in values:
            expanded += size(ref)
            if expanded > MAX_ENTITY_EXPANSION:
                raise ParseError(
                    "the document's entity declarations expand to more than "
                    f"{MAX_ENTITY_EXPANSION:,} characters (an entity-expansion attack)",
                    reason="entity_expansion",
                )


# --------------------------------------------------------------------------------------------
# Reply -> dataclasses


def _text(value) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _when(value) -> datetime | None:
    if not isinstance(value, int):
        return None
    try:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _reply_record(reply: dict, key: str, cls: type[T]) -> T:
    """The record a worker's reply carries under `key`, or the ParseError it reports."""
    if not isinstance(reply, dict):
        raise ParseError("the parser's reply was not understood", reason="malformed")
    if reply.get("error"):
        raise ParseError(str(reply.get("message") or "not a feed"), reason=str(reply["error"]))
    try:
        return unpack(cls, reply.get(key))
    except WireError as e:
        raise ParseError(f"the parser's reply was not understood: {e}", reason="malformed") from None


# --------------------------------------------------------------------------------------------
# Worker side (runs in the child process only)


def _feedparser_parse(body: bytes, content_type: str):
    """The one call into feedparser. Its sanitizer and URI resolver are off: normalisation cleans
    every field with nh3 anyway, and feedparser's own pass roughly doubles the parse time."""
    import io

    import feedparser

    content_type = _content_type_for(body, content_type)
    headers = {"content-type": content_type} if content_type else {}
    return feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False)


_CHARSET = re.compile(r";\s*charset\s*=\s*[\"']?([^\"';\s]+)[\"']?", re.I)
_DECLARED = re.compile(rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")
# Single-byte charsets decode any bytes at all, so "it decoded" says nothing about them; a
# server's default charset is usually one of these.
_WEAK_CHARSETS = {"iso-8859-1", "latin-1", "latin1", "l1", "us-ascii", "ascii", "windows-1252", "cp1252", "iso-8859-15"}


def _content_type_for(body: bytes, content_type: str) -> str:
    """The Content-Type to hand feedparser, whose RFC 3023 rules let the HTTP charset beat
    everything. Servers often send a default that is wrong for the document, so: a BOM wins;
    a header charset the bytes do not decode under, or a single-byte one against a declared
    multi-byte encoding the bytes do decode under, gives way to the XML declaration."""
    import codecs

    m = _CHARSET.search(content_type or "")
    if not m:
        return content_type
    header = m.group(1).lower()

    def replaced(charset: str) -> str:
        return content_type[: m.start()] + f"; charset={charset}" + content_type[m.end():]

    for mark, encoding in _WIDE_BOMS + ((codecs.BOM_UTF8, "utf-8"),):
        if body.startswith(mark):
            return replaced(encoding)
    d = _DECLARED.match(body[:1024])
    if not d:
        return content_type
    declared = d.group(1).decode("ascii").lower()

    def decodes(charset: str) -> bool:
        try:
            body.decode(charset)
            return True
        except (LookupError, UnicodeDecodeError):
            return False

    try:
        same = codecs.lookup(declared).name == codecs.lookup(header).name
    except LookupError:
        same = False
    if same or not decodes(declared):
        return content_type
    if not decodes(header) or (codecs.lookup(header).name in {codecs.lookup(c).name for c in _WEAK_CHARSETS} and declared not in _WEAK_CHARSETS):
        return replaced(declared)
    return content_type


def _cap(value) -> str | None:
    if not isinstance(value, str):
        return None
    return value[:_STRING_CAP]


def _timestamp(parsed) -> int | None:
    if not parsed:
        return None
    try:
        return int(calendar.timegm(tuple(parsed)[:6] + (0, 0, 0)))
    except (TypeError, ValueError, OverflowError):
        return None


def _ttl_minutes(feed) -> int | None:
    try:
        ttl = int(str(feed.get("ttl", "")).strip())
        if ttl > 0:
            return ttl
    except ValueError:
        pass
    period = str(feed.get("sy_updateperiod", "")).strip().lower()
    minutes = {"hourly": 60, "daily": 1440, "weekly": 10080, "monthly": 43200, "yearly": 525600}.get(period)
    if minutes:
        try:
            freq = max(1, int(str(feed.get("sy_updatefrequency", "1")).strip() or 1))
        except ValueError:
            freq = 1
        return max(1, minutes // freq)
    return None


def _one_line(exc) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


_EARLIEST_TS = calendar.timegm(EARLIEST_DATE.timetuple())


def _date_of(item, keys: tuple[str, ...], language: str | None) -> int | None:
    """The first readable, post-1990 date among `keys` (feedparser's fields, e.g. "published"):
    feedparser's own parse first (`<key>_parsed`), then the raw strings it could not read, in
    the languages of monitor.dates (the feed's `language` first). A 1970 placeholder in one field
    gives way to the next."""
    for key in keys:
        ts = _timestamp(item.get(key + "_parsed"))
        if ts is not None and ts >= _EARLIEST_TS:
            return ts
    for key in keys:
        raw = item.get(key)
        if isinstance(raw, str) and item.get(key + "_parsed") is None:
            from monitor.dates import parse_localized

            found = parse_localized(raw, language)
            if found is not None:
                ts = int(found.timestamp())
                if ts >= _EARLIEST_TS:
                    return ts
    return None


def _entry_of(e, language: str | None) -> Entry:
    content = None
    for part in e.get("content") or ():
        value = part.get("value") if hasattr(part, "get") else None
        if isinstance(value, str) and value.strip():
            content = value if content is None else content + "\n" + value
    return Entry(
        guid=_text(_cap(e.get("id") or e.get("guid"))),
        link=_text(_cap(e.get("link"))),
        title=_text(_cap(e.get("title"))),
        summary=_text(_cap(e.get("summary"))),
        content=_text(_cap(content)),
        published=_when(_date_of(e, ("published", "updated", "created"), language)),
        author=_text(_cap(e.get("author"))),
    )


_ROOT = re.compile(rb"\s*<\s*([A-Za-z_][\w.:-]*)")
_SKIP = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>)", re.S | re.I)


def _feed_root(body: bytes) -> bool:
    """Is the document element one a feed has (rss, RDF, feed, CDF channel)? feedparser reports an
    HTML page as a feed with no version, so an empty result needs this to tell the two apart."""
    head = body[:65536].replace(b"\x00", b"").lstrip(b"\xef\xbb\xbf\xff\xfe")
    pos = 0
    while (m := _SKIP.match(head, pos)) and m.end() > pos:
        pos = m.end()
    m = _ROOT.match(head, pos)
    if not m:
        return False
    name = m.group(1).split(b":")[-1].lower()
    return name in {b"rss", b"rdf", b"feed", b"channel"}


def _normalize_in_worker(parsed: ParsedFeed, options: NormalizeOptions) -> NormalizedFeed:
    from monitor.normalize import Rejected, normalize_entry

    entries = parsed.entries
    rejected: dict[str, int] = {}
    if len(entries) > options.max_items:
        rejected["over_item_cap"] = len(entries) - options.max_items
        entries = entries[: options.max_items]
    articles = []
    for entry in entries:
        try:
            articles.append(
                normalize_entry(
                    entry, fetched_at=options.fetched_at, feed_language=parsed.language, limits=options.limits,
                    feed_published=parsed.published,
                )
            )
        except Rejected as r:
            rejected[r.reason] = rejected.get(r.reason, 0) + 1
    return NormalizedFeed(feed=dataclasses.replace(parsed, entries=[]), entries=len(parsed.entries), articles=articles, rejected=rejected)


def _handle(request: ParseRequest) -> dict:
    """The reply to one request: {"feed": ParsedFeed} or {"normalized": NormalizedFeed}, packed,
    or {"error": reason, "message": ..., "keep": False when this worker should not go on}."""
    body = request.body
    try:
        d = _feedparser_parse(body, request.content_type)
    except MemoryError:
        return {"error": "parse_memory", "message": "the parser ran out of its memory limit", "keep": False}
    except RecursionError:
        return {"error": "malformed", "message": "the document nests too deeply to parse", "keep": False}
    except Exception as exc:  # feedparser's own bugs on odd input: report, do not crash
        return {"error": "malformed", "message": f"the parser failed: {_one_line(exc)}", "keep": False}
    feed = d.get("feed", {}) or {}
    entries = d.get("entries", []) or []
    version = d.get("version") or ""
    warning = None
    if d.get("bozo"):
        warning = _one_line(d.get("bozo_exception", "ill-formed document"))
    # A feed with no items whose XML is slightly broken (a last "</rss" without its ">") is still
    # a readable feed: kept, with its warning. Without items, a version or a feed root, it is not.
    if not entries and not version and not _feed_root(body):
        if warning:
            return {"error": "malformed", "message": f"not a feed we can read: {warning}"}
        return {"error": "not_a_feed", "message": "not an RSS or Atom feed"}
    language = _text(_cap(feed.get("language")))
    parsed = ParsedFeed(
        title=_text(_cap(feed.get("title"))),
        link=_text(_cap(feed.get("link"))),
        entries=[_entry_of(e, language) for e in entries],
        warning=_text(warning),
        ttl_minutes=_ttl_minutes(feed),
        language=language,
        # feedparser files <lastBuildDate> under "updated", a channel's <pubDate> under "published"
        published=_when(_date_of(feed, ("updated", "published"), language)),
    )
    if request.normalize is None:
        return {"feed": pack(parsed)}
    return {"normalized": pack(_normalize_in_worker(parsed, request.normalize))}


def _worker_main() -> None:
    import resource

    memory_mb = int(os.environ.get("MONITOR_PARSE_WORKER_MEMORY_MB", "1024"))
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # Import feedparser and nh3 once, before the first document, so start-up pays for them.
    import feedparser  # noqa: F401

    import monitor.normalize  # noqa: F401

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # Nothing else may write to the reply channel.
    sys.stdout = sys.stderr
    while True:
        header = stdin.read(FRAME.size)
        if len(header) < FRAME.size:
            return
        (size,) = FRAME.unpack(header)
        request = unpack(ParseRequest, marshal.loads(stdin.read(size)))
        try:
            reply = _handle(request)
            data = marshal.dumps(reply)
        except MemoryError:
            reply = {"error": "parse_memory", "message": "the parser ran out of its memory limit", "keep": False}
            data = marshal.dumps(reply)
        stdout.write(FRAME.pack(len(data)) + data)
        stdout.flush()
        if reply.get("keep", True) is False:
            # After a MemoryError or a parser crash the interpreter may be in an odd state:
            # finish, and let a fresh worker take the next document.
            return


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    _worker_main()
