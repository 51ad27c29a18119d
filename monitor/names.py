"""Topic and source names an analyst types, checked against what the store knows.

A misspelt `--topic organised_crime` or a partial `--source BBC` used to be accepted and match
nothing, which reads as "no coverage". Every command that takes one refuses an unknown name in
one line, with the closest known names (difflib) and where to find the rest.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select

from monitor.classify.taxonomy import load_taxonomy
from monitor.errors import InputError
from monitor.store.schema import articles, feeds, tags

if TYPE_CHECKING:
    from monitor.store import Database

MAX_LISTED = 12  # known names spelled out in a refusal; more are summarised with a count


class NameKind(enum.Enum):
    TOPIC = "topic"
    SOURCE = "source"


_WHERE = {
    NameKind.TOPIC: "the taxonomy (Models page)",
    NameKind.SOURCE: "the dashboard's Sources filter",
}


def known_names(db: Database, kind: NameKind) -> list[str]:
    """Topics: the taxonomy plus any stored topic tag. Sources: every outlet stored articles
    come from, plus the names of registered feeds (not polled yet)."""
    names: set[str] = set()
    if kind is NameKind.TOPIC:
        names.update(load_taxonomy(db).topic_names)
        with db.read() as conn:
            names.update(r[0] for r in conn.execute(select(tags.c.label).where(tags.c.kind == "topic").distinct()) if r[0])
    else:
        with db.read() as conn:
            names.update(r[0] for r in conn.execute(select(articles.c.source).distinct()) if r[0])
            names.update(r[0] for r in conn.execute(select(feeds.c.name).distinct()) if r[0])
    return sorted(names)


def suggestions(value: str, known: Sequence[str], n: int = 3) -> list[str]:
    """Known names close to `value`: spelling (difflib, case folded), then names containing it."""
    folded = {k.casefold(): k for k in known}
    close = [folded[m] for m in difflib.get_close_matches(value.casefold(), list(folded), n=n, cutoff=0.6)]
    contains = [k for k in known if value.casefold() in k.casefold() and k not in close]
    return (close + contains)[: max(n, 5)]


def require_known(kind: NameKind, values: Iterable[str], known: Sequence[str], option: str) -> None:
    """Raise a one-line InputError for the first of `values` not in `known`."""
    known_set = set(known)
    for value in values:
        if value in known_set:
            continue
        close = suggestions(value, known)
        hint = f" (did you mean {' or '.join(repr(c) if _needs_quotes(c) else c for c in close)}?)" if close else ""
        if len(known) <= MAX_LISTED:
            listed = f"known {kind.value}s: {', '.join(known)}" if known else f"no {kind.value} is known yet"
        else:
            listed = f"{len(known)} {kind.value}s are known: see {_WHERE[kind]}"
        raise InputError(f"unknown {option} {value!r}{hint}; {listed}")


def _needs_quotes(name: str) -> bool:
    return not name.replace("_", "").isalnum()


def check_names(db: Database, *, topics: Iterable[str] = (), sources: Iterable[str] = (), prefix: str = "--") -> None:
    """Refuse unknown topics or sources (`prefix` + option name in the message: "--topic")."""
    for kind, values, option in (
        (NameKind.TOPIC, [v for v in topics if v], "topic"),
        (NameKind.SOURCE, [v for v in sources if v], "source"),
    ):
        if values:
            require_known(kind, values, known_names(db, kind), prefix + option)
