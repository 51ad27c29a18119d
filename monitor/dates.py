"""Article dates: localised date strings read by `dateparser`, and the fallback chain.

feedparser reads RFC 822 and ISO 8601 dates in English only; a Portuguese feed's
`Seg, 24 Set 2018 10:15:00 -0300` or a Russian `Пн, 24 сен 2018` comes back unparsed. Those
strings go to `dateparser` (a maintained library with month and day names for some 200 locales),
restricted to the languages news feeds here use, the feed's declared language first. It costs
~10 ms a string against feedparser's ~0.05 ms, so it only runs on what feedparser left unparsed:
the worker reads the raw string after feedparser gave up, instead of
`feedparser.registerDateHandler`, which would put it in front of feedparser's own handlers and so
make every date pay for it.

The chain: the entry's own date, else the feed's (`lastBuildDate`/`updated`, `pubDate`), else the
fetch time. Anything but the entry's own readable date is an estimate and is stored as such
(`articles.date_estimated`): it never counts as recent and never sets a chart's window.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, timezone

EARLIEST_DATE = datetime(1990, 1, 1)  # before any web feed existed: a placeholder or epoch date
# Month and day names are read in these languages (plus whatever feedparser reads itself).
LANGUAGES = ("en", "pt", "de", "fr", "es", "it", "nl", "ru", "uk", "pl", "cs", "sk", "tr", "ro", "el", "hu")
MAX_DATE_CHARS = 80  # a longer "date" is prose, not a date; dateparser's cost grows with length
_HAS_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class ArticleDate:
    """The date an article is stored with, and whether it is only an estimate."""

    when: datetime  # naive UTC
    estimated: bool


def naive_utc(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def plausible(value: datetime | None, fetched_at: datetime) -> datetime | None:
    """The date as naive UTC if it can be a publication time: not a 1970 placeholder or any
    other pre-1990 date, not after the fetch (a wrong time zone or a scheduled post)."""
    if value is None:
        return None
    value = naive_utc(value)
    if value < EARLIEST_DATE or value > fetched_at:
        return None
    return value


def article_date(entry_date: datetime | None, feed_date: datetime | None, fetched_at: datetime) -> ArticleDate:
    """Entry date -> the feed's own date -> fetch time; all but the first are estimates."""
    fetched_at = naive_utc(fetched_at)
    own = plausible(entry_date, fetched_at)
    if own is not None:
        return ArticleDate(own, False)
    return ArticleDate(plausible(feed_date, fetched_at) or fetched_at, True)


_SETTINGS = {
    "TIMEZONE": "UTC",
    "TO_TIMEZONE": "UTC",
    "RETURN_AS_TIMEZONE_AWARE": True,
    # a bare "2018" or "Set 2018" is not an article's date
    "REQUIRE_PARTS": ["day", "month", "year"],
    # never "yesterday" relative to the machine's clock: only absolute dates
    "PARSERS": ["timestamp", "absolute-time"],
}


# One parser per language, tried in turn, rather than one over all LANGUAGES: a parser loads the
# month and day names of every language it is given the first time it runs (0.7 s for sixteen,
# in each parse worker), where one language costs a few hundredths. The order is dateparser's
# own for those languages, so a string reads as the sixteen-language parser reads it; a feed's
# declared language goes first, which only decides strings that read in several languages
# ("03/04/2018": day first in an Italian feed).
@functools.cache
def _parser(language: str):
    # dateparser is slow to import and needed only for the rare date feedparser cannot read.
    from dateparser.date import DateDataParser

    return DateDataParser(languages=[language], settings=_SETTINGS)


@functools.lru_cache(maxsize=1)
def _default_order() -> tuple[str, ...]:
    from dateparser.languages.loader import LocaleDataLoader

    locales = LocaleDataLoader().get_locales(languages=list(LANGUAGES), locales=None, region=None, use_given_order=False)
    return tuple(dict.fromkeys(locale.shortname for locale in locales))


def _languages(declared: str | None) -> tuple[str, ...]:
    first = (declared or "").strip().lower().replace("_", "-").split("-")[0]
    order = _default_order()
    return (first, *(lang for lang in order if lang != first)) if first in order else order


@functools.lru_cache(maxsize=4096)
def parse_localized(text: str | None, language: str | None = None) -> datetime | None:
    """A date string in any of LANGUAGES -> aware UTC datetime, or None; `language` is the
    feed's declared one (e.g. "pt-BR"), tried first. Feeds repeat one date on many items (and
    the channel's), hence the cache."""
    if not text or not isinstance(text, str):
        return None
    text = text.strip()
    if not text or len(text) > MAX_DATE_CHARS or not _HAS_DIGIT.search(text):
        return None
    found = None
    for lang in _languages(language):
        try:
            found = _parser(lang).get_date_data(text).date_obj
        except Exception:  # dateparser's own bugs on odd input must not lose the entry
            found = None
        if found is not None:
            break
    if found is None:
        return None
    if found.tzinfo is None:
        found = found.replace(tzinfo=timezone.utc)
    return found.astimezone(timezone.utc)
