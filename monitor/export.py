"""Exports an analyst can trust: safe CSV (or JSON Lines), streamed, saying what they are.

Safe CSV: the `csv` module writes every cell quoted (quotes, commas and newlines inside text
survive); a text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a `'`
in front, so a spreadsheet shows it as text instead of running it as a formula (CSV injection).
Numbers stay numbers (a negative score is not prefixed). Text is UTF-8, optionally with a BOM,
which Excel needs to read UTF-8 as such.

Provenance travels inside the file, so a download, a file and a pipe all carry it: a CSV starts
with a block of `PROVENANCE_LINES` plain comment lines `# key: <JSON value>` (the query, filters,
date range, active model versions, database, time of export, product version), then the header
row, so `pandas.read_csv(path, comment="#")` reads the table and skips the block. Commas and
semicolons inside the JSON strings are written as `\u002c`/`\u003b` (still JSON), so a
spreadsheet splitting the line into cells never starts one with a formula: every cell after a
JSON separator starts with a space. Read one back with `read_export()`. A JSON Lines export
starts with one `{"provenance": {…}}` line.

Streaming: articles are read through a server-side cursor (PostgreSQL) or a stepping cursor
(SQLite) in batches of `BATCH`, with their tags fetched per batch, and written as they come; a
million-row export holds one batch in memory, never the file.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import IO, Any

from sqlalchemy import select

from monitor import __version__
from monitor.coverage import CountRow, columns as summary_columns, coverage_counts, normalise_group
from monitor.filters import Filters, article_conditions
from monitor.normalize import clean_link
from monitor.store.schema import articles, classifier_models, tags

PRODUCT = "policing-press-monitor"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BATCH = 1000  # articles per cursor fetch and per tag lookup: small enough to stay flat in memory
FORMATS = ("csv", "jsonl")
ARTICLE_COLUMNS = (
    "id",
    "published_at",
    "date_estimated",
    "source",
    "title",
    "link",
    "original_link",
    "guid",
    "topics",
    "topic_scores",
    "stance",
    "stance_scores",
    "author",
    "lang",
    "tag_status",
    "summary",
)
PROVENANCE_KEYS = ("export", "exported_at", "product", "database", "query", "filters", "date_range", "models", "options", "notes")
PROVENANCE_LINES = 1 + len(PROVENANCE_KEYS)  # an introduction line, then one line per key
NOTES = (
    "Times are UTC. Newest first. date_estimated true: the item gave no readable date so "
    "published_at is the feed's own date or the time it was fetched. link is the published link "
    "without tracking parameters and fragment: original_link is as published. Text cells starting "
    "with = + - @ tab or CR carry a leading ' (CSV injection guard): drop it to get the original text."
)
ARTICLE_ORDER = "newest first (published_at then id, descending)"  # as the Articles page lists them


# ---- cells ------------------------------------------------------------------------------


def safe_cell(value: Any) -> str:
    """One value as the text of a CSV cell, with formula-looking text neutralised."""
    kind = type(value)
    if kind is str:
        return safe_text(value)
    if value is None:
        return ""
    if kind is int:
        return str(value)
    if kind is datetime:
        return _when(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars from pandas
        try:
            value = value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "" if math.isnan(value) or math.isinf(value) else repr(value)
    if isinstance(value, datetime):
        return _when(value)
    if isinstance(value, date):
        return value.isoformat()
    if type(value).__name__ == "NaTType":  # pandas' missing time
        return ""
    if isinstance(value, (dict, list, tuple)):
        return safe_text(json.dumps(value, ensure_ascii=False, default=str))
    return safe_text(str(value))


def safe_text(text: str | None) -> str:
    """A text cell: NULs dropped, a ' in front when a spreadsheet would read a formula."""
    if not text:
        return ""
    if "\x00" in text:
        text = text.replace("\x00", "")  # NUL ends strings in too many readers
    if text[:1] in _GUARD_FIRST and _needs_guard(text):
        return "'" + text
    return text


_GUARD_FIRST = frozenset(FORMULA_START) | {"'"}


def _when(value: datetime) -> str:
    """Times as 'YYYY-MM-DD HH:MM:SS' in UTC: spreadsheets parse it, the header says UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.isoformat(sep=" ", timespec="seconds")


def _needs_guard(text: str) -> bool:
    # Text that merely looks guarded already ("'=1") gets one more ', so unprotect() is exact.
    return text.lstrip("'").startswith(FORMULA_START)


def unprotect(text: str) -> str:
    """The original text of a cell written by safe_cell (for readers of our own CSV)."""
    if text.startswith("'") and _needs_guard(text[1:]):
        return text[1:]
    return text


def _writer(out: IO[str], bom: bool):
    if bom:
        out.write("\ufeff")
    return csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")


# ---- provenance -------------------------------------------------------------------------


def active_models(db) -> list[dict]:
    """The model versions that made the tags (the active one per kind)."""
    if db is None:
        return []
    with db.read() as conn:
        rows = conn.execute(
            select(classifier_models.c.kind, classifier_models.c.version, classifier_models.c.created_at)
            .where(classifier_models.c.active.is_(True))
            .order_by(classifier_models.c.kind, classifier_models.c.id)
        ).all()
    return [{"kind": r.kind, "version": r.version, "trained_at": safe_cell(r.created_at)} for r in rows]


def provenance(db, *, export: str, filters: Filters | None = None, options: dict | None = None) -> dict:
    """What an export is: enough to reproduce it or to judge whether it is still current."""
    filters = filters or Filters()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    return {
        "export": export,
        "exported_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "product": f"{PRODUCT} {__version__}",
        "database": db.display_url() if db is not None else None,
        "query": filters.query,
        "filters": filters.describe(),
        "date_range": {
            "from": filters.date_from.isoformat() if filters.date_from else None,
            "to": filters.date_to.isoformat() if filters.date_to else None,
            "inclusive": True,
            "timezone": "UTC",
        },
        "models": active_models(db),
        "options": options or {},
        "notes": NOTES,
    }


# Inside JSON strings: cell separators (a spreadsheet's comma or semicolon) and every character a
# reader may take for a line break, so a provenance line is one line of cells none of which
# starts with a formula character.
_PROVENANCE_ESCAPES = str.maketrans({",": "\\u002c", ";": "\\u003b", "\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


def _provenance_value(value: Any) -> str:
    # ensure_ascii=False keeps Cyrillic queries readable; JSON escapes newlines and quotes, and
    # the translation touches string contents only (the structural ", " and ": " stay)
    encoder = json.JSONEncoder(ensure_ascii=False, default=str)
    parts = []
    for chunk in encoder.iterencode(value):
        parts.append(chunk.translate(_PROVENANCE_ESCAPES) if chunk.startswith('"') else chunk)
    return "".join(parts)


def _write_provenance_csv(out: IO[str], record: dict) -> None:
    """Plain `# ` lines (not CSV cells), so `pandas.read_csv(comment="#")` skips them."""
    out.write(f"# {PRODUCT} export: the first {PROVENANCE_LINES} lines (starting with #) describe it. the header row follows\r\n")
    for key in PROVENANCE_KEYS:
        out.write(f"# {key}: {_provenance_value(record.get(key))}\r\n")


def read_export(stream: IO[str]) -> tuple[dict, list[str], Iterator[list[str]]]:
    """Read one of our CSV exports (opened with newline=""): (provenance, header, rows with the
    ' guard removed)."""
    lines = _without_bom(stream)
    record: dict = {}
    first = None
    for line in lines:
        if line.startswith("#"):
            key, sep, value = line[1:].strip().partition(": ")
            if sep and key in PROVENANCE_KEYS:
                record[key] = json.loads(value)
            continue
        first = line
        break
    reader = csv.reader(itertools.chain([first] if first is not None else [], lines))
    header = next(reader, [])
    return record, header, ([unprotect(c) for c in row] for row in reader)


def _without_bom(lines: Iterable[str]) -> Iterator[str]:
    first = True
    for line in lines:
        yield line.removeprefix("\ufeff") if first else line
        first = False


# ---- any table (dashboard downloads) ----------------------------------------------------


def write_table_csv(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    out: IO[str],
    *,
    title: str,
    filters: Filters | None = None,
    db=None,
    options: dict | None = None,
    bom: bool = False,
) -> int:
    """Exactly these rows and columns (what a table or chart shows), with provenance. Returns rows."""
    writer = _writer(out, bom)
    _write_provenance_csv(out, provenance(db, export=title, filters=filters, options=options))
    writer.writerow([safe_cell(c) for c in columns])
    n = 0
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
        n += 1
    return n


# ---- articles ---------------------------------------------------------------------------


@dataclass
class ArticleRecord:
    id: int
    published_at: datetime
    date_estimated: bool
    source: str
    title: str
    link: str | None  # as published
    guid: str | None
    author: str | None
    lang: str | None
    tag_status: str
    summary: str
    topics: dict[str, float] = field(default_factory=dict)  # topic -> score, highest first
    stance: dict[str, tuple[str, float]] = field(default_factory=dict)  # target -> (label, score)

    @property
    def clean_link(self) -> str | None:
        return clean_link(self.link)

    def csv_values(self) -> list[str]:
        return [
            str(self.id),
            _when(self.published_at),
            "true" if self.date_estimated else "false",
            safe_text(self.source),
            safe_text(self.title),
            safe_text(self.clean_link),
            safe_text(self.link),
            safe_text(self.guid),
            safe_text(";".join(self.topics)),
            safe_text(";".join([f"{t}:{round(s, 4)}" for t, s in self.topics.items()])),
            safe_text(";".join([f"{t}:{label}" for t, (label, _) in self.stance.items()])),
            safe_text(";".join([f"{t}:{round(s, 4)}" for t, (_, s) in self.stance.items()])),
            safe_text(self.author),
            safe_text(self.lang),
            safe_text(self.tag_status),
            safe_text(self.summary),
        ]

    def json_value(self) -> dict:
        return {
            "id": self.id,
            "published_at": safe_cell(self.published_at),
            "date_estimated": bool(self.date_estimated),
            "source": self.source,
            "title": self.title,
            "link": self.clean_link,
            "original_link": self.link,
            "guid": self.guid,
            "topics": list(self.topics),
            "topic_scores": self.topics,
            "stance": {t: label for t, (label, _) in self.stance.items()},
            "stance_scores": {t: s for t, (_, s) in self.stance.items()},
            "author": self.author,
            "lang": self.lang,
            "tag_status": self.tag_status,
            "summary": self.summary,
        }


def iter_articles(
    db, filters: Filters | None = None, *, limit: int | None = None, offset: int = 0, batch: int = BATCH
) -> Iterator[ArticleRecord]:
    """The filtered articles, newest first (the Articles page's order), with their tags, one
    batch in memory at a time. `offset` and `limit` give one page of that list."""
    filters = filters or Filters()
    stmt = (
        select(
            articles.c.id,
            articles.c.published_at,
            articles.c.date_estimated,
            articles.c.source,
            articles.c.title,
            articles.c.link,
            articles.c.guid,
            articles.c.author,
            articles.c.lang,
            articles.c.tag_status,
            articles.c.summary,
        )
        .where(*article_conditions(filters, db))
        .order_by(articles.c.published_at.desc(), articles.c.id.desc())
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    with db.read() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(stmt)
        for part in result.partitions(batch):
            records = {r.id: ArticleRecord(r[0], r[1], bool(r[2]), *r[3:]) for r in part}
            tag_rows = conn.execute(
                select(tags.c.article_id, tags.c.kind, tags.c.target, tags.c.label, tags.c.score)
                .where(tags.c.article_id.in_(list(records)))
                .order_by(tags.c.article_id, tags.c.kind, tags.c.score.desc(), tags.c.target, tags.c.label)
            )
            for article_id, kind, target, label, score in tag_rows:
                record = records[article_id]
                if kind == "topic":
                    record.topics[label] = score
                elif target not in record.stance:
                    record.stance[target] = (label, score)
            yield from records.values()


def write_articles_csv(
    db,
    filters: Filters | None,
    out: IO[str],
    *,
    bom: bool = False,
    limit: int | None = None,
    offset: int = 0,
    fmt: str = "csv",
    title: str = "articles",
) -> int:
    """Stream the filtered articles (CSV or JSON Lines) with provenance; returns the row count.
    The CLI's export and every dashboard download of articles come through here: one order
    (newest first), one format."""
    filters = filters or Filters()
    options = {"format": fmt, "limit": limit, "order": ARTICLE_ORDER}
    if offset:
        options["offset"] = offset
    record = provenance(db, export=title, filters=filters, options=options)
    n = 0
    if fmt == "jsonl":
        if bom:
            out.write("\ufeff")
        out.write(json.dumps({"provenance": record}, ensure_ascii=False) + "\n")
        for article in iter_articles(db, filters, limit=limit, offset=offset):
            out.write(json.dumps(article.json_value(), ensure_ascii=False) + "\n")
            n += 1
        return n
    writer = _writer(out, bom)
    _write_provenance_csv(out, record)
    writer.writerow(ARTICLE_COLUMNS)
    for article in iter_articles(db, filters, limit=limit, offset=offset):
        writer.writerow(article.csv_values())
        n += 1
    return n


# ---- summaries --------------------------------------------------------------------------


def write_summary_csv(
    db,
    filters: Filters | None,
    out: IO[str],
    *,
    by: str = "day",
    group=("topic",),
    rows: list[CountRow] | None = None,
    bom: bool = False,
    fmt: str = "csv",
    title: str = "summary",
) -> int:
    """Counts per period and group, with the denominator and share: `coverage_counts` as a file.

    Pass `rows` to write exactly the rows a chart already holds (same filters, by and group)."""
    filters = filters or Filters()
    group = normalise_group(group)
    if rows is None:
        rows = coverage_counts(db, filters, by=by, group=group)
    options = {
        "format": fmt,
        "by": by,
        "group": list(group),
        "count": "articles in the period that pass every filter and belong to the group",
        "total": "all articles in the period from the same sources (query, topic and stance filters not applied)",
        "share": "count / total (0 when the period has no article)",
        "period": "first day of the period; weeks start on Monday (ISO 8601); UTC",
    }
    record = provenance(db, export=title, filters=filters, options=options)
    if fmt == "jsonl":
        if bom:
            out.write("\ufeff")
        out.write(json.dumps({"provenance": record}, ensure_ascii=False) + "\n")
        for row in rows:
            out.write(json.dumps({k: safe_json(v) for k, v in row.as_dict(group).items()}, ensure_ascii=False) + "\n")
        return len(rows)
    writer = _writer(out, bom)
    _write_provenance_csv(out, record)
    writer.writerow(summary_columns(group))
    for row in rows:
        writer.writerow([safe_cell(v) for v in row.as_dict(group).values()])
    return len(rows)


def safe_json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (date, datetime)) else value


__all__ = [
    "ARTICLE_COLUMNS",
    "PROVENANCE_LINES",
    "ArticleRecord",
    "iter_articles",
    "provenance",
    "read_export",
    "safe_cell",
    "unprotect",
    "write_articles_csv",
    "write_summary_csv",
    "write_table_csv",
]
