"""`export articles` and `export summary`: thin wrappers over monitor.export.

Output goes to --output FILE (written to a temporary file beside it and moved into place, so a
failed export never leaves half a file under the real name) or to stdout. Either way the file
starts with its provenance block (see monitor.export).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.errors import InputError
from monitor.filters import PARAMS, Filters

if TYPE_CHECKING:
    from monitor.store import Database



def register(sub) -> None:
    p = sub.add_parser(
        "export",
        help="CSV (or JSON Lines) of articles or of coverage counts",
        description="Exports start with a provenance block of '# ' lines (query, filters, date range, model versions, "
        "database, time of export): pandas.read_csv(path, comment='#') skips it. CSV cells are all quoted and "
        "formula-looking text is prefixed with '.",
    )
    group = p.add_subparsers(dest="export_command", metavar="SUBCOMMAND")
    group.required = True

    art = group.add_parser(
        "articles",
        help="the filtered articles, one row each, with topics and stance",
        description="Columns: id, published_at (UTC), date_estimated, source, title, link (tracking parameters "
        "removed), original_link, guid, topics, topic_scores, stance (target:LABEL;…), stance_scores, author, lang, "
        "tag_status, summary. Newest first, as the dashboard lists them.",
    )
    _filter_options(art)
    art.add_argument("--limit", type=int, metavar="N", help="at most N articles")
    _output_options(art)
    art.set_defaults(handler=run_articles)

    summ = group.add_parser(
        "summary",
        help="counts per period and group with the denominator and share",
        description="One row per period and group (zero rows included): count = articles passing every "
        "filter in the group; total = all articles of the period from the same sources; share = count/total. "
        "Repeat --group for combinations (e.g. --group topic --group source); --group none gives one row per period.",
    )
    summ.add_argument("--by", choices=("day", "week", "month"), default="day", help="period (default day; weeks start on Monday)")
    summ.add_argument(
        "--group", action="append", choices=("topic", "stance", "source", "none"), metavar="GROUP",
        help="topic, stance (per target), source or none; repeatable (default topic)",
    )
    _filter_options(summ)
    _output_options(summ)
    summ.set_defaults(handler=run_summary)


def _filter_options(p) -> None:
    """One option per filter URL key (monitor.filters.DIMENSIONS): --from, --to, --query, …"""
    for param in PARAMS:
        names = [param.cli, "-q"] if param.key == "q" else [param.cli]
        if param.many:
            p.add_argument(*names, dest=f"filter_{param.key}", action="append", default=[], metavar=param.metavar, help=param.help)
        else:
            p.add_argument(*names, dest=f"filter_{param.key}", metavar=param.metavar, help=param.help)


def _output_options(p) -> None:
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--format", choices=("csv", "jsonl"), help="csv (default) or jsonl (default when FILE ends in .jsonl)")
    p.add_argument("--bom", action="store_true", help="start with a UTF-8 byte order mark (for Excel)")


def _filters(args: argparse.Namespace, db: Database) -> Filters:
    from monitor.names import check_names

    given = {p.key: getattr(args, f"filter_{p.key}") for p in PARAMS}
    filters = Filters.from_params({k: v for k, v in given.items() if v}, names={p.key: p.cli for p in PARAMS})
    check_names(db, topics=filters.topics, sources=filters.sources)
    return filters


def _format(args) -> str:
    if args.format:
        return args.format
    if args.output and Path(args.output).suffix.lower() in (".jsonl", ".ndjson"):
        return "jsonl"
    return "csv"


def _write(args, write) -> int:
    """Run write(out) into --output (atomically) or stdout; returns what write returned."""
    if not args.output:
        if hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(encoding="utf-8")
        return write(sys.stdout)
    target = Path(args.output)
    if target.is_dir():
        raise InputError(f"--output {target} is a folder: give a file name")
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    except OSError as e:
        raise InputError(f"cannot write {target}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            n = write(out)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as e:
        raise InputError(f"cannot write {target}: {e.strerror}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return n


def run_articles(args: argparse.Namespace, db: Database) -> int:
    from monitor.export import write_articles_csv

    filters = _filters(args, db)
    if args.limit is not None and args.limit < 0:
        raise InputError("--limit must be 0 or more")
    fmt = _format(args)
    n = _write(args, lambda out: write_articles_csv(db, filters, out, bom=args.bom, limit=args.limit, fmt=fmt))
    if args.output:
        print(f"exported {n} articles to {args.output}")
    return 0


def run_summary(args: argparse.Namespace, db: Database) -> int:
    from monitor.coverage import normalise_group
    from monitor.export import write_summary_csv

    filters = _filters(args, db)
    group = normalise_group(args.group or ["topic"])
    fmt = _format(args)
    n = _write(args, lambda out: write_summary_csv(db, filters, out, by=args.by, group=group, bom=args.bom, fmt=fmt))
    if args.output:
        print(f"exported {n} rows ({args.by} × {', '.join(group) or 'all articles'}) to {args.output}")
    return 0
