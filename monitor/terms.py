"""Top terms: the words that dominate the newest matching headlines (no Streamlit).

Counting every word of a million articles on each page view is not affordable, so this reads
the titles and summaries of the newest `sample` matching articles only (one indexed, limited
query) and says so; the browser only ever receives the counted terms.

Function words are dropped with the stop-word lists of `stopwordsiso` (a maintained collection
keyed by ISO 639-1 code, the same codes as the `lang` column) for every language among the
counted articles, English always included since feeds of every language quote it; feed
boilerplate ("read more", "continue reading", "the post … appeared first on …") is cut out of
the text before counting.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import stopwordsiso
from sqlalchemy import select

from monitor.filters import Filters, article_conditions
from monitor.search_tokens import normalise as fold, words
from monitor.store import Database
from monitor.store.schema import articles

MIN_LENGTH = 3
ALWAYS = ("en",)

# Phrases feeds append to every summary, in the archive's commonest languages: they would top
# every count and say nothing about the news.
BOILERPLATE = re.compile(
    r"\b(?:"
    r"read more|read the full (?:story|article)|continue reading|full story|click here|"
    r"the post\b.{0,300}?\bappeared first on\b[^.]*|appeared first on|"
    r"leia mais|saiba mais|leer más|seguir leyendo|lire la suite|en savoir plus|weiterlesen|mehr lesen|"
    r"leggi tutto|continua a leggere|llegir més|czytaj więcej|lees meer|"
    r"подробнее|читать далее|читать полностью|детальніше|читати далі"
    r")",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class TermCount:
    term: str
    articles: int  # how many of the sampled articles use it (document frequency)


@dataclass(frozen=True)
class TopTerms:
    terms: list[TermCount]
    sampled: int  # articles read (at most `sample`)


@lru_cache(maxsize=64)
def stop_words(languages: frozenset[str]) -> frozenset[str]:
    """The function words of these languages (ISO 639-1 codes; unknown codes add nothing)."""
    known = stopwordsiso.langs()
    wanted = [lang for lang in sorted(set(languages) | set(ALWAYS)) if lang in known]
    return frozenset(fold(w) for w in stopwordsiso.stopwords(wanted))


def _language(code: str | None) -> str | None:
    return code.split("-", 1)[0].strip().lower() if code else None


def top_terms(db: Database, filters: Filters, *, limit: int = 25, sample: int = 2000) -> TopTerms:
    with db.read() as conn:
        rows = conn.execute(
            select(articles.c.title, articles.c.summary, articles.c.lang)
            .where(*article_conditions(filters, db))
            .order_by(articles.c.published_at.desc())
            .limit(sample)
        ).all()
    stop = stop_words(frozenset(filter(None, (_language(lang) for _t, _s, lang in rows))))
    counts: Counter[str] = Counter()
    for title, summary, _lang in rows:
        text = BOILERPLATE.sub(" ", f"{title} {(summary or '')[:1000]}")
        seen = {w for w in words(text) if len(w) >= MIN_LENGTH and w not in stop and not w.isdigit()}
        counts.update(seen)
    return TopTerms([TermCount(t, n) for t, n in counts.most_common(limit)], len(rows))
