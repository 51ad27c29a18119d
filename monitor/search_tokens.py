"""How text becomes searchable words: the one definition behind the SQLite and PostgreSQL indexes
and the in-memory alert matcher, so all three give the same answer to the same query.

1. Normalise: NFKC, then case folding, then NFKC again (folding can decompose: "İ" becomes
   "i" plus a combining dot, which is dropped so "İnterpol" is "interpol"). Ligatures (ﬁ), full-width
   letters and decomposed accents all become the plain composed letters. Diacritics stay (й is not и).
2. Split into words: a letter or digit, then letters, digits and combining marks (so Devanagari or
   Thai words are not cut at their vowel signs). Words longer than `MAX_WORD_CHARS` (base64, hashes)
   are dropped.
3. Stem each word with the Snowball stemmer of the article's language, when it has one; stems are
   tagged with the language (`_en_hacker`) so an English stem never matches a German document.

An article is indexed as two aligned streams: its words as written (after normalisation) and their
stems. Title, summary and content are separated by a break token, so a phrase never runs from one
field into the next. A query word matches a document that has it as written, or whose stem in the
document's language is the word's stem in that language; a phrase is the same, word by word, in a
row. A `prefix*` matches the words as written.

Both streams are capped the same way for every backend: at most `MAX_POSITIONS` tokens (PostgreSQL
cannot address more), and a word (or stem) seen more than `MAX_OCCURRENCES` times gives way to a
break after that (PostgreSQL keeps that many positions per word), so phrase answers agree exactly.
"""

from __future__ import annotations

import threading
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import regex
import Stemmer

from monitor.normalize import plain_text

MAX_WORD_CHARS = 100  # a German compound fits; a base64 run or a hash does not need finding
MAX_POSITIONS = 16_000  # PostgreSQL's tsvector positions stop at 16 383
MAX_OCCURRENCES = 256  # PostgreSQL's tsvector keeps 256 positions per word
BREAK = "_"  # between fields and in place of capped words; never a query word (no letters)
STEM_MARK = "_"  # a stem is "_<language>_<stem>": no surface word or prefix starts with "_"

_WORD = regex.compile(r"[\p{L}\p{N}][\p{L}\p{N}\p{M}]*")

# ISO 639 codes (as `monitor.normalize.detect_language` stores them) -> Snowball algorithm.
# Languages without one (Chinese, Japanese, Korean, Ukrainian, Hebrew…) are matched as written.
STEMMERS: dict[str, str] = {
    "ar": "arabic",
    "hy": "armenian",
    "eu": "basque",
    "ca": "catalan",
    "cs": "czech",
    "da": "danish",
    "nl": "dutch",
    "en": "english",
    "eo": "esperanto",
    "et": "estonian",
    "fi": "finnish",
    "fr": "french",
    "de": "german",
    "el": "greek",
    "hi": "hindi",
    "hu": "hungarian",
    "id": "indonesian",
    "ga": "irish",
    "it": "italian",
    "lt": "lithuanian",
    "ne": "nepali",
    "no": "norwegian",
    "fa": "persian",
    "pl": "polish",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "st": "sesotho",
    "es": "spanish",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
    "yi": "yiddish",
}
# Other spellings of the same languages that feeds declare (<language>nb-NO</language>, ISO 639-2).
_ALIASES = {
    "nb": "no", "nn": "no", "eng": "en", "fra": "fr", "fre": "fr", "deu": "de", "ger": "de", "spa": "es",
    "ita": "it", "por": "pt", "rus": "ru", "nld": "nl", "dut": "nl", "ara": "ar", "tur": "tr", "pol": "pl",
}  # fmt: skip
STEMMED_LANGUAGES: tuple[str, ...] = tuple(sorted(STEMMERS))


def normalise(text: str) -> str:
    """NFKC, case-folded, composed: the form every index and matcher compares."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return folded.replace("i\u0307", "i") if "\u0307" in folded else folded


def words(text: str) -> list[str]:
    """The searchable words of a text, normalised, in order."""
    found = _WORD.findall(normalise(text))
    if found and max(map(len, found)) > MAX_WORD_CHARS:
        return [w for w in found if len(w) <= MAX_WORD_CHARS]
    return found


def stem_language(lang: str | None) -> str | None:
    """The language code whose stemmer applies to an article stored with `lang`, or None."""
    if not lang:
        return None
    code = lang.strip().lower().replace("_", "-").split("-", 1)[0]
    code = _ALIASES.get(code, code)
    return code if code in STEMMERS else None


_local = threading.local()  # PyStemmer objects are not safe to share between threads


def _stemmer(code: str) -> Stemmer.Stemmer:
    cache = getattr(_local, "stemmers", None)
    if cache is None:
        cache = _local.stemmers = {}
    stemmer = cache.get(code)
    if stemmer is None:
        stemmer = cache[code] = Stemmer.Stemmer(STEMMERS[code])
    return stemmer


def stems(tokens: Sequence[str], code: str) -> list[str]:
    """Tagged stems of normalised words (breaks stay breaks)."""
    mark = f"{STEM_MARK}{code}{STEM_MARK}"
    out = [mark + s for s in _stemmer(code).stemWords(tokens)]
    if BREAK in tokens:
        tokens = list(tokens)
        i = -1
        try:
            while True:
                i = tokens.index(BREAK, i + 1)
                out[i] = BREAK
        except ValueError:
            pass
    return out


@lru_cache(maxsize=4096)
def query_stems(tokens: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A query word or phrase stemmed by every language's stemmer: ((code, tagged stems), …)."""
    return tuple((code, tuple(stems(tokens, code))) for code in STEMMED_LANGUAGES)


@dataclass(frozen=True)
class IndexedText:
    """An article as the search indexes hold it: its words, and (in a stemmed language) their
    stems at the same positions. Breaks separate fields."""

    words: tuple[str, ...]
    stems: tuple[str, ...]  # empty when the language has no stemmer
    language: str | None  # the stemmer's language code

    def words_text(self) -> str:
        return " ".join(self.words)

    def stems_text(self) -> str:
        return " ".join(self.stems)

    def tsvector(self) -> str:
        """PostgreSQL's tsvector literal: words and stems at the same positions, breaks skipped."""
        positions: dict[str, list[str]] = {}
        for stream in (self.words, self.stems):  # never the same token in both: stems start with "_"
            for i, token in enumerate(stream, start=1):
                if token in positions:
                    positions[token].append(str(i))
                else:
                    positions[token] = [str(i)]
        positions.pop(BREAK, None)
        # tokens are letters, digits, marks and "_": nothing in them needs quoting
        return " ".join(f"'{token}':{','.join(p)}" for token, p in positions.items())


def _capped(tokens: list[str]) -> list[str]:
    tokens = tokens[:MAX_POSITIONS]
    if len(tokens) <= MAX_OCCURRENCES or max(Counter(tokens).values()) <= MAX_OCCURRENCES:
        return tokens
    seen: dict[str, int] = {}
    out = []
    for t in tokens:
        n = seen.get(t, 0) + 1
        seen[t] = n
        out.append(t if n <= MAX_OCCURRENCES or t == BREAK else BREAK)
    return out


def _html_text(content: str) -> str:
    return plain_text(content, len(content) + 1) if "<" in content or "&" in content else content


def _repeats(summary: list[str], content: list[str]) -> bool:
    """The summary is the content's opening (made from it, maybe cut inside its last word)."""
    n = len(summary)
    if n == 0 or len(content) < n or content[: n - 1] != summary[: n - 1]:
        return False
    return content[n - 1].startswith(summary[-1])


def index_text(title: str | None, summary: str | None, content: str | None, lang: str | None) -> IndexedText:
    """What an article contributes to search: title, summary and content (sanitised HTML, read as
    text). A summary that only repeats the start of the content is not indexed twice."""
    fields = [words(title or "")]
    summary_words = words(summary or "")
    content_text = _html_text(content) if content else ""
    # most feeds give one text, stored as both summary and content: split it once
    content_words = summary_words if summary and content_text == summary else words(content_text)
    if not _repeats(summary_words, content_words):
        fields.append(summary_words)
    fields.append(content_words)
    stream: list[str] = []
    for field in fields:
        if field:
            if stream:
                stream.append(BREAK)
            stream.extend(field)
    surface = _capped(stream)
    code = stem_language(lang)
    stemmed = _capped(stems(surface, code)) if code and surface else []
    return IndexedText(tuple(surface), tuple(stemmed), code if stemmed else None)
