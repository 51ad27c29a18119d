"""`feeds add|list|remove|import|export`: the feed list, over `monitor.feeds`."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.errors import InputError

if TYPE_CHECKING:
    from monitor.store import Database


LIST_COLUMNS = (
    "id",
    "url",
    "name",
    "tags",
    "status",
    "enabled",
    "last_success_at",
    "consecutive_failures",
    "last_error_reason",
    "next_poll_at",
)


def register(sub) -> None:
    feeds = sub.add_parser("feeds", help="manage the feed list (add, list, remove, OPML import/export)")
    fsub = feeds.add_subparsers(dest="feeds_command", metavar="SUBCOMMAND")
    fsub.required = True

    p = fsub.add_parser("add", help="add a feed URL", description="Add an RSS/Atom feed. Only http(s) URLs on public addresses are accepted unless --allow-private-networks is given.")
    p.add_argument("url", metavar="URL")
    p.add_argument("--name", metavar="N", help="outlet name shown for its articles (default: the feed's own title)")
    p.add_argument("--tag", metavar="T", action="append", default=[], help="a tag for the feed (repeatable)")
    p.add_argument("--allow-private-networks", action="store_true", help="accept loopback/private addresses (intranet feeds, tests)")
    p.set_defaults(handler=run_add, creates_db=True)

    p = fsub.add_parser("list", help="list feeds with their health")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(handler=run_list)

    p = fsub.add_parser("remove", help="remove a feed by id or URL (its articles stay)")
    p.add_argument("feed", metavar="ID|URL")
    p.set_defaults(handler=run_remove)

    p = fsub.add_parser("import", help="add every feed of an OPML file")
    p.add_argument("file", metavar="FILE.opml")
    p.add_argument("--allow-private-networks", action="store_true", help="accept loopback/private addresses")
    p.set_defaults(handler=run_import, creates_db=True)

    p = fsub.add_parser("export", help="write all feeds as OPML (to FILE, or stdout)")
    p.add_argument("file", nargs="?", metavar="FILE.opml")
    p.set_defaults(handler=run_export)


def run_add(args: argparse.Namespace, db: Database) -> int:
    from monitor.feeds import add_feed

    feed_id = add_feed(db, args.url, name=args.name, tags=args.tag, allow_private=args.allow_private_networks)
    print(f"added feed {feed_id}")
    return 0


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if hasattr(value, "isoformat"):
        return value.replace(microsecond=0).isoformat(sep=" ")
    return str(value)


def run_list(args: argparse.Namespace, db: Database) -> int:
    from monitor.export import safe_cell
    from monitor.feeds import list_feeds

    rows = list_feeds(db)
    if args.format == "json":
        data = [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.as_dict().items()} for r in rows]
        json.dump(data, sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    if args.format == "csv":
        writer = csv.writer(sys.stdout, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(LIST_COLUMNS)
        for r in rows:
            writer.writerow([safe_cell(_cell(getattr(r, c))) for c in LIST_COLUMNS])
        return 0
    if not rows:
        print("no feeds yet: add one with `python -m monitor feeds add URL` or `feeds import FILE.opml`")
        return 0
    shown = ("id", "status", "failures", "last success", "next poll", "name", "url")
    table = [
        (
            str(r.id),
            r.status + (f" ({r.last_error_reason})" if r.last_error_reason and r.status != "ok" else ""),
            str(r.consecutive_failures),
            _cell(r.last_success_at) or "-",
            _cell(r.next_poll_at) or "-",
            (r.name or "")[:40],
            r.url,
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(shown)]
    print("  ".join(h.ljust(w) for h, w in zip(shown, widths)).rstrip())
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    return 0


def run_remove(args: argparse.Namespace, db: Database) -> int:
    from monitor.feeds import remove_feed

    feed_id = remove_feed(db, args.feed)
    print(f"removed feed {feed_id}")
    return 0


def run_import(args: argparse.Namespace, db: Database) -> int:
    from monitor.feeds import import_opml

    added, skipped = import_opml(db, Path(args.file), allow_private=args.allow_private_networks)
    print(f"imported {added} feeds ({skipped} skipped: already listed or invalid)")
    return 0


def run_export(args: argparse.Namespace, db: Database) -> int:
    from monitor.feeds import export_opml

    data = export_opml(db)
    if args.file:
        try:
            Path(args.file).write_bytes(data)
        except OSError as e:
            raise InputError(f"cannot write {args.file}: {e.strerror}") from None
        print(f"exported {data.count(b'<outline ')} feeds to {args.file}")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0
