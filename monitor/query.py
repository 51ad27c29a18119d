"""The search language shared by Articles search, alerts and exports.

    interpol europol            both words (AND is implied)
    "red notice"                a phrase
    extradit*                   a prefix (useful for inflected languages: экстрадиц*)
    cyber OR ransomware         either
    interpol NOT football       the first without the second
    (europol OR interpol) AND "money laundering"

Operators are AND, OR, NOT in any case; parentheses group. A query is parsed into a small tree,
then either compiled to SQL (on SQLite one FTS5 lookup per term, combined with SQL's AND/OR/NOT,
as FTS5 has no unary NOT; on PostgreSQL one tsquery for the whole tree) or matched in memory against an article
(alerts). All three read words the one way `monitor.search_tokens` defines: normalised (NFKC,
case folded), and matched as written or by their stem in the article's language, so `hacker`
finds "hackers" and `коррупция` finds "коррупции"; a `prefix*` matches words as written.

Limits keep a hostile query cheap: the parser is a linear recursive descent (no regular
expression runs on the query), with caps on length, terms and nesting.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Select, and_, bindparam, literal_column, not_, or_, select, text, true
from sqlalchemy.sql.elements import ColumnElement

from monitor.errors import QueryError
from monitor.search_tokens import (
    BREAK,
    IndexedText,
    index_text,
    query_stems,
    words as words,  # the word splitter others (top terms) share
)

# What the search box's help says (the dashboard's sidebar); docs/dashboard.md "Searching" in full.
HELP = (
    "Searches titles, summaries and article text. Words find their other forms in the article's language "
    "(hacker finds hackers, коррупция finds коррупции); case, ligatures and full-width letters do not matter, accents do. "
    '"Exact phrase" in quotes; `extradit*` for words starting so; AND / OR / NOT and (parentheses); '
    "words next to each other mean AND."
)

MAX_QUERY_CHARS = 1000  # a long boolean query fits; a pasted article does not
MAX_TERMS = 64  # each term is one index lookup
MAX_DEPTH = 16  # parentheses nesting

# ---- the tree ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """A word, a phrase (several words in a row) or a prefix (`word*`)."""

    tokens: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class And:
    parts: tuple


@dataclass(frozen=True)
class Or:
    parts: tuple


@dataclass(frozen=True)
class Not:
    part: object


@dataclass(frozen=True)
class Prepared:
    """An article's words and stems, split once and matched against many queries."""

    tokens: tuple[str, ...]
    vocabulary: frozenset[str]
    stems: tuple[str, ...] = ()
    stem_vocabulary: frozenset[str] = frozenset()
    language: str | None = None  # the stemmer's language; None: matched as written only


def prepare(text: str | IndexedText, lang: str | None = None) -> Prepared:
    """A text (one field, in `lang`) or an article's `IndexedText`, ready for matching."""
    indexed = text if isinstance(text, IndexedText) else index_text(text, "", "", lang)
    return Prepared(indexed.words, frozenset(indexed.words), indexed.stems, frozenset(indexed.stems), indexed.language)


def prepare_article(title: str | None, summary: str | None, content: str | None, lang: str | None) -> Prepared:
    """An article exactly as the search indexes see it."""
    return prepare(index_text(title, summary, content, lang))


@dataclass(frozen=True)
class Query:
    """A parsed query. `root` is None for the empty query, which matches everything."""

    source: str
    root: object | None

    @property
    def is_empty(self) -> bool:
        return self.root is None

    def matches(self, text: str | Prepared) -> bool:
        if self.root is None:
            return True
        doc = text if isinstance(text, Prepared) else prepare(text)
        return _match(self.root, doc)

    def terms(self) -> list[Term]:
        """The positive terms, e.g. for highlighting."""
        out: list[Term] = []
        _collect(self.root, out, negated=False)
        return out


def _collect(node, out: list[Term], negated: bool) -> None:
    if isinstance(node, Term):
        if not negated:
            out.append(node)
    elif isinstance(node, (And, Or)):
        for part in node.parts:
            _collect(part, out, negated)
    elif isinstance(node, Not):
        _collect(node.part, out, not negated)


def _match(node, doc: Prepared) -> bool:
    if isinstance(node, Term):
        return _match_term(node, doc)
    if isinstance(node, And):
        return all(_match(p, doc) for p in node.parts)
    if isinstance(node, Or):
        return any(_match(p, doc) for p in node.parts)
    return not _match(node.part, doc)


def _match_term(term: Term, doc: Prepared) -> bool:
    if term.prefix:
        return _phrase_in(term.tokens, doc.tokens, doc.vocabulary, prefix=True)
    if _phrase_in(term.tokens, doc.tokens, doc.vocabulary, prefix=False):
        return True
    if doc.language is None:
        return False
    stemmed = dict(query_stems(term.tokens))[doc.language]
    return _phrase_in(stemmed, doc.stems, doc.stem_vocabulary, prefix=False)


def _phrase_in(tokens: tuple[str, ...], stream: tuple[str, ...], vocabulary: frozenset[str], *, prefix: bool) -> bool:
    """The words in a row in the stream; with `prefix`, the last one only needs to start so."""
    if len(tokens) == 1 and not prefix:
        return tokens[0] in vocabulary
    if len(tokens) == 1:
        return any(t.startswith(tokens[0]) and t != BREAK for t in vocabulary)
    # all but the last must be whole words
    if not all(t in vocabulary for t in tokens[:-1]):
        return False
    n = len(tokens)
    head, last = tokens[:-1], tokens[-1]
    for i in range(len(stream) - n + 1):
        if stream[i : i + n - 1] == head:
            candidate = stream[i + n - 1]
            if candidate == last or (prefix and candidate.startswith(last)):
                return True
    return False


# ---- parsing ----------------------------------------------------------------------------

_OPERATORS = {"and": "AND", "or": "OR", "not": "NOT"}


def _lex(source: str) -> list[tuple[str, str]]:
    """Split into (kind, text): LP, RP, AND, OR, NOT, PHRASE, WORD."""
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch.isspace():
            i += 1
        elif ch == "(":
            tokens.append(("LP", ch))
            i += 1
        elif ch == ")":
            tokens.append(("RP", ch))
            i += 1
        elif ch in "\"“”«»":
            close = {"«": "»", "“": "”"}.get(ch)
            j = i + 1
            while j < n and source[j] not in ('"', "”", "»") and (close is None or source[j] != close):
                j += 1
            if j >= n:
                raise QueryError(f"unclosed quote in the query: {source[i:i + 30]!r}… — add the closing \"")
            tokens.append(("PHRASE", source[i + 1 : j]))
            i = j + 1
        else:
            j = i
            while j < n and not source[j].isspace() and source[j] not in "()\"“”«»":
                j += 1
            word = source[i:j]
            tokens.append((_OPERATORS.get(word.lower(), "WORD"), word))
            i = j
    return tokens


class _Parser:
    def __init__(self, source: str):
        self.source = source
        self.tokens = _lex(source)
        self.pos = 0
        self.depth = 0
        self.term_count = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self):
        if not self.tokens:
            return None
        node = self.parse_or()
        if self.peek() == "RP":
            raise QueryError("unbalanced parentheses: a ')' has no matching '('")
        if self.pos != len(self.tokens):  # pragma: no cover - the grammar consumes everything else
            raise QueryError(f"unexpected {self.tokens[self.pos][1]!r} in the query")
        return node

    def parse_or(self):
        parts = [self.parse_and()]
        while self.peek() == "OR":
            self.take()
            parts.append(self.parse_and(after="OR"))
        parts = [p for p in parts if p is not None]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def parse_and(self, after: str | None = None):
        parts = []
        first = True
        while True:
            kind = self.peek()
            if kind == "AND":
                if first:
                    raise QueryError("AND needs a term before it")
                self.take()
                if self.peek() in (None, "RP", "OR", "AND"):
                    raise QueryError("AND needs a term after it")
                continue
            if kind in (None, "RP", "OR"):
                break
            parts.append(self.parse_not())
            first = False
        if first:
            where = f"after {after}" if after else "here"
            raise QueryError(f"a term is missing {where}: the query ends or closes too early")
        parts = [p for p in parts if p is not None]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def parse_not(self):
        if self.peek() == "NOT":
            self.take()
            if self.peek() in (None, "RP", "OR", "AND"):
                raise QueryError("NOT needs a term after it")
            inner = self.parse_not()
            return None if inner is None else Not(inner)
        return self.parse_atom()

    def parse_atom(self):
        kind, value = self.take()
        if kind == "LP":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise QueryError(f"parentheses nested more than {MAX_DEPTH} deep")
            if self.peek() == "RP":
                raise QueryError("empty parentheses '()' in the query")
            node = self.parse_or()
            if self.peek() != "RP":
                raise QueryError("unbalanced parentheses: a '(' is never closed")
            self.take()
            self.depth -= 1
            return node
        if kind == "RP":  # pragma: no cover - parse_and stops before RP
            raise QueryError("unbalanced parentheses: a ')' has no matching '('")
        prefix = kind == "WORD" and value.endswith("*")
        tokens = tuple(words(value))
        if not tokens:
            return None  # punctuation only (e.g. "+$"): nothing to look for
        self.term_count += 1
        if self.term_count > MAX_TERMS:
            raise QueryError(f"the query has more than {MAX_TERMS} terms")
        return Term(tokens, prefix=prefix)


@lru_cache(maxsize=512)
def parse_query(source: str | None) -> Query:
    """Parse a query; raises QueryError with a one-line message when it is malformed."""
    source = (source or "").strip()
    if len(source) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    root = _Parser(source).parse()
    if root is None and source:
        raise QueryError("the query has no words to search for")
    return Query(source, root)


# ---- SQL --------------------------------------------------------------------------------

# The index (migration 0004), filled from `monitor.search_tokens` by `monitor.search_index`:
# SQLite: FTS5 `articles_fts(words, stems)`, rowid = article id; PostgreSQL: the tsvector column
# below, words and stems at the same positions.
PG_DOCUMENT = "articles.search_vector"


def query_condition(query: Query | str, db) -> ColumnElement[Any]:
    """A condition on the `articles` table that holds for the articles the query matches."""
    from monitor.store.schema import articles

    if isinstance(query, str):
        query = parse_query(query)
    if query.root is None:
        return true()
    from monitor.search_index import archive_languages

    with db.read() as conn:
        languages = frozenset(archive_languages(conn))  # the stemmers worth asking
    if not db.is_sqlite:
        # the whole query as one tsquery: one GIN scan that ANDs and ORs the terms' posting lists
        # itself (per-term subqueries made `a AND b` 20x and a long OR 100x slower)
        tree = _tsquery_tree(query.root, languages)
        match = text(f"{PG_DOCUMENT} @@ CAST(:q AS tsquery)").bindparams(bindparam("q", tree, unique=True))
        return cast(ColumnElement[Any], match)  # a boolean SQL text: used where any condition is
    return _sql(query.root, languages, articles)


def _tsquery_tree(node, languages: frozenset[str]) -> str:
    if isinstance(node, Term):
        return "(" + tsquery(node, languages) + ")"
    if isinstance(node, (And, Or)):
        joiner = " & " if isinstance(node, And) else " | "
        return "(" + joiner.join(_tsquery_tree(p, languages) for p in node.parts) + ")"
    return "!" + _tsquery_tree(node.part, languages)


def _sql(node, languages: frozenset[str], articles) -> ColumnElement:
    """SQLite: one FTS5 lookup per term, combined in SQL (FTS5 has no unary NOT)."""
    if isinstance(node, Term):
        return _sql_term(node, languages, articles)
    if isinstance(node, And):
        return and_(*(_sql(p, languages, articles) for p in node.parts))
    if isinstance(node, Or):
        return or_(*(_sql(p, languages, articles) for p in node.parts))
    return not_(_sql(node.part, languages, articles))


def _variants(term: Term, languages: frozenset[str] | None):
    return [stemmed for code, stemmed in query_stems(term.tokens) if languages is None or code in languages]


def fts5_match(term: Term, languages: frozenset[str] | None = None) -> str:
    """FTS5 query syntax for one term: the words as written, or the stems in any language.
    Tokens are letters, digits and marks (stems add "_"), so nothing in them is FTS syntax."""
    written = '"' + " ".join(term.tokens) + '"'
    if term.prefix:
        return f"words : {written} *"
    variants = _variants(term, languages)
    if not variants:
        return f"words : {written}"
    alternatives = " OR ".join('"' + " ".join(stemmed) + '"' for stemmed in variants)
    return f"(words : {written}) OR (stems : ({alternatives}))"


def tsquery(term: Term, languages: frozenset[str] | None = None) -> str:
    """PostgreSQL tsquery syntax for one term, the same alternatives as `fts5_match`."""

    def phrase(tokens, prefix=False) -> str:
        parts = [f"'{t}'" for t in tokens]
        if prefix:
            parts[-1] += ":*"
        return "(" + " <-> ".join(parts) + ")"

    if term.prefix:
        return phrase(term.tokens, prefix=True)
    return " | ".join([phrase(term.tokens)] + [phrase(stemmed) for stemmed in _variants(term, languages)])


def _sql_term(term: Term, languages: frozenset[str], articles) -> ColumnElement:
    matcher = text("articles_fts MATCH :m").bindparams(bindparam("m", fts5_match(term, languages), unique=True))
    lookup: Select[Any] = select(literal_column("rowid")).select_from(text("articles_fts")).where(matcher)
    return articles.c.id.in_(lookup.scalar_subquery())
