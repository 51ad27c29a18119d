"""Top terms: the words that dominate the newest matching headlines (no Streamlit).

Counting every word of a million articles on each page view is not affordable, so this reads
the titles and summaries of the newest `sample` matching articles only (one indexed, limited
query) and says so; the browser only ever receives the counted terms.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select

from monitor.filters import Filters, article_conditions
from monitor.query import words
from monitor.store import Database
from monitor.store.schema import articles

# Function words in the feeds' main languages: they top every count and say nothing.
STOPWORDS = frozenset(
    """
    a about after against all also an and any are as at be been before being but by can could did do does
    for from had has have he her here his how i if in into is it its just more most new no not now of on
    one or other our out over said says she so some than that the their them then there these they this
    those to up us was we were what when where which while who will with would you your year years
    after amid over under says say two three first last week day today yesterday
    и в во не на что с со по к как а из у за от о об для до это то же так но бы ли или
    его ее её их он она они мы вы я при под над без уже после также еще ещё было был была были
    будет может более сегодня года году год который которая которые которых заявил
    """.split()
)
MIN_LENGTH = 3


@dataclass(frozen=True)
class TermCount:
    term: str
    articles: int  # how many of the sampled articles use it (document frequency)


@dataclass(frozen=True)
class TopTerms:
    terms: list[TermCount]
    sampled: int  # articles read (at most `sample`)


def top_terms(db: Database, filters: Filters, *, limit: int = 25, sample: int = 2000) -> TopTerms:
    with db.read() as conn:
        rows = conn.execute(
            select(articles.c.title, articles.c.summary)
            .where(*article_conditions(filters, db))
            .order_by(articles.c.published_at.desc())
            .limit(sample)
        ).all()
    counts: Counter[str] = Counter()
    for title, summary in rows:
        seen = {w for w in words(f"{title} {(summary or '')[:1000]}") if len(w) >= MIN_LENGTH and w not in STOPWORDS and not w.isdigit()}
        counts.update(seen)
    return TopTerms([TermCount(t, n) for t, n in counts.most_common(limit)], len(rows))
