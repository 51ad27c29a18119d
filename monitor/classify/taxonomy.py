"""The taxonomy: topics with descriptions and seed terms, stance targets with aliases.

The shipped file (monitor/taxonomy.toml) is the base; analysts' additions live in the
`taxonomy_entries` table and are merged on top (same name: the database entry wins).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from sqlalchemy import select

from monitor.classify.analyzers import CJK, WORD
from monitor.errors import ConfigError, InputError

TAXONOMY_FILE = Path(__file__).resolve().parent.parent / "taxonomy.toml"
_NAME = re.compile(r"^[a-z0-9_]{2,64}$")


@dataclass(frozen=True)
class Description:
    """What a topic is about, in one language, and what it is not (the guide's look-alikes).

    `about` is evidence for the topic; `not_about` names things that look like it ("patches with
    no reported exploitation") and is never taught as the topic."""

    language: str
    about: str
    not_about: str = ""


@dataclass(frozen=True)
class Topic:
    name: str
    description: str  # what analysts are shown: the English description
    terms: tuple[str, ...]
    # look-alikes: a seed-term match inside one of these ("life hack", "Bundeskartellamt") is no evidence
    exclude: tuple[str, ...] = ()
    # the description in each language the feeds carry (shipped topics); an analyst's topic has
    # only `description`
    descriptions: tuple[Description, ...] = ()


@dataclass(frozen=True)
class Target:
    name: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Taxonomy:
    topics: tuple[Topic, ...]
    targets: tuple[Target, ...] = field(default=())

    @property
    def topic_names(self) -> list[str]:
        return [t.name for t in self.topics]

    @property
    def target_names(self) -> list[str]:
        return [t.name for t in self.targets]

    def topic(self, name: str) -> Topic:
        for t in self.topics:
            if t.name == name:
                return t
        raise InputError(f"unknown topic {name!r} (known: {', '.join(self.topic_names)})")

    def target(self, name: str) -> Target:
        for t in self.targets:
            if t.name.lower() == name.lower():
                return t
        raise InputError(f"unknown stance target {name!r} (known: {', '.join(self.target_names)})")


def _term_parts(term: str) -> tuple[str, str]:
    """(word-start guard, rest) of a term's regex; Chinese and Japanese terms have no guard."""
    term = term.strip()
    parts = [re.escape(p) for p in term.lower().split("*")]
    body = r"\w*".join(parts)
    body = re.sub(r"(\\ )+", r"[\\s\\-]+", body)  # "cyber attack" also matches "cyber-attack"
    if CJK.search(term):  # written without spaces: no word boundaries to look for
        return "", body
    tail = "" if term.endswith("*") else r"(?!\w)"
    return r"(?<!\w)", body + tail


def term_pattern(term: str) -> str:
    """A seed term or alias as a regex: starts at a word start, `*` is any run of letters.

    Without a trailing `*` the term must end at a word end, so "isis" does not match "crisis".
    """
    head, rest = _term_parts(term)
    return head + rest


class TermPattern:
    """Terms compiled into one regex, behind a substring pre-check.

    Most texts name none of a target's aliases, and `in` over the lowercased text rules them out
    far faster than the regex can (Python's engine tries every alternative at every word start,
    about 2 ms on a long article): with aliases in twenty languages, that keeps tagging fast."""

    def __init__(self, regex: re.Pattern[str], pieces: tuple[tuple[str, ...], ...]):
        self.regex = regex
        # per term, its literal pieces: a text can only match a term that has all of them
        self.pieces = pieces
        self._single = tuple(t[0] for t in pieces if len(t) == 1)
        self._multi = tuple(t for t in pieces if len(t) != 1)

    @property
    def pattern(self) -> str:
        return self.regex.pattern

    def may_match(self, text: str) -> bool:
        """False when no term can match: some literal piece of every term is missing."""
        low = text.lower()
        for piece in self._single:  # plain loops: this runs for every text and target
            if piece in low:
                return True
        for term in self._multi:
            for piece in term:
                if piece not in low:
                    break
            else:
                return True
        return False

    def search(self, text: str) -> re.Match[str] | None:
        return self.regex.search(text) if self.may_match(text) else None

    def sub(self, repl, text: str, count: int = 0) -> str:
        return self.regex.sub(repl, text, count=count) if self.may_match(text) else text


def _pieces(term: str) -> tuple[str, ...]:
    """The term's literal runs (between `*`, spaces and hyphens), lowercased, longest first."""
    return tuple(sorted({p for p in re.split(r"[\s*\-]+", term.strip().lower()) if p}, key=lambda p: (-len(p), p)))


def _implied(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """A text with all of a's pieces has all of b's: a's check is then redundant beside b's."""
    return all(any(q in p for p in a) for q in b)


@lru_cache(maxsize=256)
def compile_terms(terms: tuple[str, ...]) -> TermPattern | None:
    """One alternation over all terms (compiled once per distinct term set).

    The word-start guard is tested once for all the terms that need it, not once per term."""
    guarded: list[str] = []
    free: list[str] = []
    pieces = set()
    for t in terms:
        if t.strip():
            head, rest = _term_parts(t)
            (guarded if head else free).append(f"(?:{rest})")
            pieces.add(_pieces(t))
    if not guarded and not free:
        return None
    alternatives = ([r"(?<!\w)(?:" + "|".join(guarded) + ")"] if guarded else []) + free
    if () in pieces:  # a term of punctuation only: no cheap pre-check for it
        pieces = {()}
    kept: list[tuple[str, ...]] = []
    for a in sorted(pieces, key=lambda a: (len(a), sum(map(len, a)), a)):  # simplest first
        if not any(_implied(a, b) for b in kept):
            kept.append(a)
    return TermPattern(re.compile("|".join(alternatives), re.IGNORECASE), tuple(kept))


_ABOUT = "about_"
_NOT = "not_"


def _descriptions(t: dict) -> tuple[Description, ...]:
    """`about_en`, `not_en`, `about_de`, ...: one description per language, English first."""
    name = t.get("name", "?")
    langs: list[str] = []
    for key, value in t.items():
        if key.startswith((_ABOUT, _NOT)):
            if not isinstance(value, str):
                raise ConfigError(f"topic {name!r} in {TAXONOMY_FILE}: {key} must be a string")
            lang = key.split("_", 1)[1]
            if lang not in langs:
                langs.append(lang)
    out = []
    for lang in sorted(langs, key=lambda lang: lang != "en"):
        about, not_about = t.get(_ABOUT + lang, "").strip(), t.get(_NOT + lang, "").strip()
        if not about:
            raise ConfigError(f"topic {name!r} in {TAXONOMY_FILE}: {_NOT + lang} without {_ABOUT + lang}")
        out.append(Description(lang, about, not_about))
    return tuple(out)


@lru_cache(maxsize=1)
def _file_taxonomy() -> Taxonomy:
    try:
        raw = tomllib.loads(TAXONOMY_FILE.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read the taxonomy file {TAXONOMY_FILE}: {e}") from None
    topics = []
    for t in raw.get("topics", []):
        # terms_en, terms_de, terms_zh, ...: one list per language, all matched in every text
        terms = [term for key, value in t.items() if key == "terms" or key.startswith("terms_") for term in value]
        exclude = [term for key, value in t.items() if key == "exclude" or key.startswith("exclude_") for term in value]
        descriptions = _descriptions(t)
        english = next((d for d in descriptions if d.language == "en"), None)
        # shown to analysts: `description` if the file gives one, else the English about and not
        shown = t.get("description") or (" ".join(filter(None, (english.about, english.not_about))) if english else "")
        topics.append(
            Topic(t["name"], shown, tuple(dict.fromkeys(terms)), tuple(dict.fromkeys(exclude)), descriptions)
        )
    targets = [Target(t["name"], tuple(t.get("aliases", [t["name"]]))) for t in raw.get("targets", [])]
    return Taxonomy(tuple(topics), tuple(targets))


def load_taxonomy(db=None) -> Taxonomy:
    """The shipped taxonomy plus what analysts added in the database."""
    base = _file_taxonomy()
    if db is None:
        return base
    from monitor.store.schema import taxonomy_entries as te

    with db.read() as conn:
        rows = conn.execute(select(te.c.kind, te.c.name, te.c.description, te.c.terms).order_by(te.c.id)).all()
    topics = {t.name: t for t in base.topics}
    targets = {t.name: t for t in base.targets}
    for kind, name, description, terms in rows:
        if kind == "topic":
            topics[name] = Topic(name, description or "", tuple(terms or ()))
        elif kind == "target":
            targets[name] = Target(name, tuple(terms or ()) or (name,))
    return Taxonomy(tuple(topics.values()), tuple(targets.values()))


def add_topic(db, name: str, description: str, terms: list[str], added_by: str | None = None) -> None:
    """Add (or replace) a topic; it is learned at the next training."""
    name = name.strip().lower()
    if not _NAME.match(name):
        raise InputError("a topic name is 2-64 characters of a-z, 0-9 and _")
    _upsert(db, "topic", name, description, [t for t in terms if t.strip()], added_by)


def add_target(db, name: str, aliases: list[str], added_by: str | None = None) -> None:
    """Add (or replace) a stance target; it gets a bootstrap stance model until labelled."""
    name = name.strip()
    if not name or len(name) > 128:
        raise InputError("a target name is 1-128 characters")
    aliases = [a for a in aliases if a.strip()] or [name]
    _upsert(db, "target", name, "", aliases, added_by)


def _upsert(db, kind: str, name: str, description: str, terms: list[str], added_by: str | None) -> None:
    from monitor.store import utcnow
    from monitor.store.schema import taxonomy_entries as te

    with db.write() as conn:
        conn.execute(te.delete().where(te.c.kind == kind, te.c.name == name))
        conn.execute(
            te.insert().values(kind=kind, name=name, description=description, terms=terms, added_by=added_by, created_at=utcnow())
        )


_WORD = WORD


class TermMatcher:
    """Finds seed terms of many topics in a text in one pass over its words.

    A term is a sequence of words; a word ending in `*` matches any word it starts. Chinese and
    Japanese are matched character by character (analyzers.WORD), so "洗钱" is found inside a
    sentence written without spaces. Matching walks the text's words once with dictionary
    look-ups (a regex alternation over hundreds of terms costs a millisecond per article; this
    costs microseconds). A match that lies inside one of its group's `exclude` terms is dropped.
    """

    @classmethod
    def for_topics(cls, topics: tuple[Topic, ...] | list[Topic]) -> TermMatcher:
        return cls({t.name: t.terms for t in topics}, {t.name: t.exclude for t in topics})

    def __init__(self, groups: dict[str, tuple[str, ...]], exclude: dict[str, tuple[str, ...]] | None = None):
        self._exclude = TermMatcher({g: e for g, e in exclude.items() if e}) if exclude and any(exclude.values()) else None
        self._exact: dict[str, list[tuple[str, tuple[tuple[str, bool], ...]]]] = {}
        self._prefix: dict[int, dict[str, list[tuple[str, tuple[tuple[str, bool], ...]]]]] = {}
        for group, terms in groups.items():
            for term in terms:
                parts = tuple(
                    (w, star) for w, star in ((m.group(0), term[m.end() : m.end() + 1] == "*") for m in _WORD.finditer(term.lower()))
                )
                if not parts:
                    continue
                first, star = parts[0]
                entry = (group, parts)
                if star:
                    self._prefix.setdefault(len(first), {}).setdefault(first, []).append(entry)
                else:
                    self._exact.setdefault(first, []).append(entry)
        # a word is looked up by its first few letters (as many as the shortest prefix term
        # has, at most 3) instead of once per prefix length: the prefixes starting that way,
        # in order of length
        self._head = min([3, *self._prefix])
        self._by_head: dict[str, list[tuple[str, list[tuple[str, tuple[tuple[str, bool], ...]]]]]] = {}
        for length in sorted(self._prefix):
            for first, entries in self._prefix[length].items():
                self._by_head.setdefault(first[: self._head], []).append((first, entries))

    def find(self, text: str) -> list[tuple[str, int, int, str]]:
        """(group, start, end, matched words) for every occurrence, in text order."""
        out = self._find(text)
        if self._exclude is not None and out:
            masks = self._exclude._find(text)
            if masks:
                out = [m for m in out if not any(g == m[0] and s <= m[1] and m[2] <= e for g, s, e, _ in masks)]
        return out

    def _find(self, text: str) -> list[tuple[str, int, int, str]]:
        low = text.lower()
        words = _WORD.findall(low)
        exact, by_head, h = self._exact, self._by_head, self._head
        found: list[tuple[int, int, str]] = []  # (first word, words, group)
        n = len(words)
        for i in [i for i, w in enumerate(words) if w in exact or w[:h] in by_head]:
            w = words[i]
            entries = list(exact.get(w, ()))
            for first, more in by_head.get(w[:h], ()):
                if w.startswith(first):
                    entries.extend(more)
            for group, parts in entries:
                k = len(parts)
                if i + k > n:
                    continue
                for (p, star), tw in zip(parts[1:], words[i + 1 : i + k]):
                    if not (tw.startswith(p) if star else tw == p):
                        break
                else:
                    found.append((i, k, group))
        if not found:
            return []
        spans = [m.span() for m in _WORD.finditer(low)]  # only for the texts that match
        return [(group, spans[i][0], spans[i + k - 1][1], " ".join(words[i : i + k])) for i, k, group in found]
