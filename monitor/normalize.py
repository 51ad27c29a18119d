"""Parsed entries -> clean `Article`s: plain text, safe links, UTC dates, dedup keys.

Everything a stranger's feed puts in a field is treated as hostile until it passes here:
titles and summaries become plain text (tags stripped by nh3, entities decoded once), content
stays HTML but sanitised by nh3 with no images (tracking pixels, remote loads), links survive
only as http/https, control characters and NUL are dropped (PostgreSQL rejects NUL), and
oversized fields are truncated.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

import nh3

from monitor.config import settings
from monitor.dates import article_date
from monitor.models import Article, Entry

MAX_URL_CHARS = 2048  # the schema's column width; a longer "URL" is not a link we keep
MAX_SUMMARY_CHARS = 10_000  # plain-text preview, also what search and the classifiers read


class Rejected(Exception):
    """An entry that cannot become an article; `reason` is a short, fixed key."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    max_title_chars: int = 1000
    max_content_chars: int = 200_000
    max_summary_chars: int = MAX_SUMMARY_CHARS

    @classmethod
    def from_settings(cls) -> Limits:
        s = settings()
        return cls(max_title_chars=s.max_title_chars, max_content_chars=s.max_content_chars)


# --------------------------------------------------------------------------------------------
# Text


# C0 controls except tab/newline/CR, DEL, C1 controls, lone surrogates, and non-characters.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_SPACE = re.compile(r"\s+")
# Block-level boundaries become spaces, so "<p>a</p><p>b</p>" reads "a b", not "ab".
_BLOCK = re.compile(r"<\s*/?\s*(?:p|div|br|li|ul|ol|h[1-6]|tr|td|th|table|blockquote|section|article|figure|figcaption|hr|dd|dt)\b[^>]*>", re.I)
# "<" opens a tag in HTML when a letter, "/", "!" or "?" follows; "a < b" is just text.
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_MAX_TAG_PASSES = 8
_TEXT_CLEANER = nh3.Cleaner(tags=set(), clean_content_tags={"script", "style", "template", "noscript", "title", "textarea", "svg", "math"})
_CONTENT_TAGS = (nh3.ALLOWED_TAGS - {"img", "map", "area"}) | {"section"}
_CONTENT_CLEANER = nh3.Cleaner(
    tags=_CONTENT_TAGS,
    clean_content_tags={"script", "style", "template", "noscript", "textarea", "svg", "math"},
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer nofollow",
)

# Double-encoded UTF-8 (UTF-8 bytes once read as cp1252): a lead character followed by the right
# number of continuation characters, as they look after that mistake.
_CP1252_HIGH = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ\x81\x8d\x8f\x90\x9d"
_CONT = "[\x80-\xbf" + re.escape(_CP1252_HIGH) + "]"
# Two-byte leads are limited to those of Latin-1, Latin Extended-A, Greek, Cyrillic, Hebrew and
# Arabic: the others (É, Ç, Ü…) begin real words followed by « » ° and would be "repaired" wrongly.
_LEAD2 = "\xc2\xc3\xc4\xc5\xce\xcf\xd0\xd1\xd7\xd8\xd9"
_MOJIBAKE = re.compile(f"(?:[{_LEAD2}]{_CONT}|[\xe0-\xef]{_CONT}{{2}}|[\xf0-\xf4]{_CONT}{{3}})+")
_MOJIBAKE_HINT = re.compile(f"[{_LEAD2}\xe0-\xf4]{_CONT}|\\SÂ(?:\\s|$)")
_C1 = re.compile("[\x80-\x9f]")
_LONE_A_CIRC = re.compile(r"(?<=\S)Â(?=\s|$)")


def _cp1252_byte(ch: str) -> int:
    try:
        return ch.encode("cp1252")[0]
    except UnicodeEncodeError:
        return ord(ch)  # the five bytes cp1252 leaves undefined were kept as Latin-1 code points


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 that was decoded as cp1252 ("CataluÃ±a" -> "Cataluña"), run by run.

    Only runs that re-encode to valid UTF-8 are replaced, so ordinary Latin-1 text ("à la",
    "Ñandú") stays as it is. Stray C1 controls left afterwards are cp1252 punctuation that a
    Latin-1 decoder let through ("\\x93quoted\\x94"); they become the characters meant."""
    if _MOJIBAKE_HINT.search(text):

        def fix(m: re.Match) -> str:
            run = m.group(0)
            try:
                return bytes(_cp1252_byte(c) for c in run).decode("utf-8")
            except (UnicodeDecodeError, ValueError):
                return run

        text = _MOJIBAKE.sub(fix, text)
        # A double-encoded no-break space whose second half was stripped as whitespace ("RERÂ").
        text = _LONE_A_CIRC.sub(" ", text)
    if _C1.search(text):
        text = _C1.sub(_demoronize, text)
    return text


def _demoronize(m: re.Match) -> str:
    try:
        return bytes([ord(m.group(0))]).decode("cp1252")
    except UnicodeDecodeError:
        return ""


def strip_controls(text: str) -> str:
    return _CONTROL.sub("", text)


def plain_text(value: str | None, limit: int) -> str:
    """HTML or text -> one line of plain text: tags gone, entities decoded once, controls dropped."""
    if not value:
        return ""
    # Truncate generously first so a 10 MB field costs no more than a 1 MB one.
    text = value[: max(limit * 8, 4096)]
    text = strip_controls(repair_mojibake(text))
    if "<" in text or "&" in text:
        text = _BLOCK.sub(" ", text)
        text = html.unescape(_TEXT_CLEANER.clean(text))
        # "&lt;img onerror…&gt;" decodes to markup again, and "&lt;&lt;b&gt;img…&gt;" does so
        # once more after the next pass drops its <b>: clean until no tag is spelled, and the
        # last word is always a sanitising step, never an unescape (nh3 re-escapes text, so
        # these passes never decode an entity twice).
        for _ in range(_MAX_TAG_PASSES):
            if not _TAG_START.search(text):
                break
            text = html.unescape(_TEXT_CLEANER.clean(text))
        text = _TAG_START.sub("", text)  # deeper nesting than that: no "<" left that opens a tag
    text = strip_controls(text).replace("\ufeff", "").replace("\u200b", "")
    text = _SPACE.sub(" ", text).strip()
    return _truncate(text, limit)


def clean_html(value: str | None, limit: int) -> str:
    """Sanitised HTML for display: no scripts, handlers, forms, SVG, images; links http(s)."""
    if not value:
        return ""
    text = strip_controls(repair_mojibake(value[:limit]))
    text = strip_controls(_CONTENT_CLEANER.clean(text))
    return text[:limit]


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + "…"


# --------------------------------------------------------------------------------------------
# Links


_TRACKING_PARAMS = {
    "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid",
    "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id",
    "wickedid", "twclid", "ttclid", "li_fat_id", "ocid", "xtor", "cmpid", "ito", "ns_mchannel",
    "ns_source", "ns_campaign", "ns_linkname", "ns_fee", "at_medium", "at_campaign",
    "at_custom1", "at_custom2", "at_custom3", "at_custom4", "ref_src", "ref_url", "s_cid",
    "spm", "__twitter_impression", "rss", "feedtype", "from_rss", "smid", "cid", "ncid",
}
_TRACKING_PREFIXES = ("utm_", "at_", "ns_", "pk_", "mtm_", "hsa_")
_HOST_PREFIXES = ("www.", "m.", "amp.", "mobile.")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def safe_link(value: str | None) -> str | None:
    """The link as published if it is an absolute http(s) URL; None otherwise.

    Browsers ignore tabs and newlines inside a URL ("jav\\tascript:"), so they are removed before
    the scheme is judged."""
    if not value:
        return None
    link = re.sub(r"[\x00-\x20\x7f]", "", value.strip())
    link = strip_controls(link)
    if len(link) > MAX_URL_CHARS:
        return None
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if parts.scheme != parts.scheme.lower():
        link = parts.scheme.lower() + link[len(parts.scheme):]
    # Characters a URL may never hold raw are percent-encoded, so a link cannot close the HTML
    # attribute or text it is put in (`"><img src=x onerror=…>` in an e-mail or a page).
    return _UNSAFE_IN_URL.sub(lambda m: f"%{ord(m.group(0)):02X}", link)


_UNSAFE_IN_URL = re.compile(r'["<>\\^`{|}]')


def _tracking(name: str) -> bool:
    name = name.lower()
    return name in _TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES)


def clean_link(link: str | None) -> str | None:
    """The link as published without its tracking parameters (utm_*, fbclid…, as `url_key`
    drops them) and fragment: what an export hands on. Scheme, host, path and the order and
    spelling of the other parameters stay as published, so the link still opens."""
    link = safe_link(link)
    if link is None:
        return None
    link = link.split("#", 1)[0]
    base, sep, query = link.partition("?")
    if not sep:
        return link
    kept = [part for part in query.split("&") if part and not _tracking(unquote_plus(part.split("=", 1)[0]))]
    return base + ("?" + "&".join(kept) if kept else "")


def url_key(link: str | None) -> str | None:
    """The URL as one story: https, lower-case host without www./m./amp., no port 80/443, no
    user info, no fragment, no tracking parameters, query sorted, no trailing slash."""
    link = safe_link(link)
    if link is None:
        return None
    try:
        parts = urlsplit(link)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        return None
    changed = True
    while changed:
        changed = False
        for prefix in _HOST_PREFIXES:
            if host.startswith(prefix) and host.count(".") > 1:
                host = host[len(prefix):]
                changed = True
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not _tracking(k)
    ]
    query.sort()
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    if path == "/" and not query:
        return None  # a site's home page is where many items point, never one story
    key = urlunsplit(("https", host, path, urlencode(query), ""))
    return key if len(key) <= MAX_URL_CHARS else None


# --------------------------------------------------------------------------------------------
# Dates, hashes, language


def normalize_date(published: datetime | None, fetched_at: datetime) -> datetime:
    """Naive UTC. Missing, pre-1990 and future dates take the fetch time (a wrong time zone or a
    scheduled post must not sit on top of the timeline for days); see monitor.dates."""
    return article_date(published, None, fetched_at).when


_NOT_WORD = re.compile(r"[^\w\s]|_")
_CJK = re.compile("[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def title_hash(title: str) -> str:
    """md5 of the title with case, punctuation and spacing folded: the same headline re-posted.

    Short, generic titles ("Engagements", "The H Week", "Featured Advertiser") recur for
    different stories, so they get no hash ("") and never merge articles."""
    folded = _NOT_WORD.sub("", unicodedata.normalize("NFKC", title).casefold())
    folded = _SPACE.sub(" ", folded).strip()
    if len(folded.split(" ")) < 4 and not (len(folded) >= 10 and _CJK.search(folded)):
        return ""
    return hashlib.md5(folded.encode("utf-8")).hexdigest()


def guid_key(guid: str | None, key: str | None, title: str, summary: str) -> str:
    """The stable identity of an item within its source: its guid, else its URL, else its text."""
    if guid:
        basis = "g\n" + guid.strip()
    elif key:
        basis = "u\n" + key
    else:
        basis = "t\n" + title + "\n" + summary[:500]
    return hashlib.sha256(basis.encode("utf-8", "replace")).hexdigest()


_SCRIPTS = (
    # (first code point, last code point, language) — scripts used by essentially one language
    # in news feeds; Cyrillic and Arabic pick the commonest language using them.
    (0x0400, 0x04FF, "ru"),
    (0x0370, 0x03FF, "el"),
    (0x0590, 0x05FF, "he"),
    (0x0600, 0x06FF, "ar"),
    (0x0900, 0x097F, "hi"),
    (0x0E00, 0x0E7F, "th"),
    (0x3040, 0x30FF, "ja"),
    (0xAC00, 0xD7AF, "ko"),
    (0x4E00, 0x9FFF, "zh"),
)
_STOPWORDS = {
    "en": {"the", "and", "of", "to", "in", "is", "for", "on", "with", "that", "was", "by", "as", "from", "after"},
    "fr": {"le", "la", "les", "des", "et", "du", "une", "un", "est", "pour", "dans", "qui", "au", "sur", "pas"},
    "de": {"der", "die", "und", "das", "den", "ist", "nicht", "mit", "sich", "auf", "für", "ein", "eine", "im", "dem"},
    "es": {"el", "la", "los", "las", "y", "del", "que", "en", "por", "con", "una", "para", "se", "es", "su"},
    "it": {"il", "di", "che", "della", "per", "con", "gli", "una", "sono", "nel", "alla", "del", "le", "non", "è"},
    "pt": {"o", "os", "da", "do", "das", "dos", "que", "em", "para", "com", "uma", "não", "na", "no", "ao"},
    "nl": {"de", "het", "een", "en", "van", "is", "dat", "op", "te", "voor", "niet", "met", "zijn", "bij", "ook"},
}
_WORD = re.compile(r"[^\W\d_]+")
_LETTER = re.compile(r"[^\W\d_]")
_NON_LATIN = re.compile("[\u0370-\u9fff\uac00-\ud7af]")


def _script_language(ch: str) -> str | None:
    cp = ord(ch)
    for lo, hi, lang in _SCRIPTS:
        if lo <= cp <= hi:
            return lang
    return None


def detect_language(text: str, hint: str | None = None) -> str | None:
    """A cheap guess: the script for languages with their own, common words for Latin ones,
    else the feed's declared language. Good enough to filter; not a language model."""
    hint_code = _language_code(hint)
    sample = text[:600]
    letters = len(_LETTER.findall(sample))
    if letters == 0:
        return hint_code
    non_latin = _NON_LATIN.findall(sample)
    if len(non_latin) * 3 >= letters:  # only a script that is a third of the letters can win
        counts = Counter(_script_language(ch) for ch in non_latin)
        counts.pop(None, None)
        if counts:
            lang, n = max(counts.items(), key=lambda kv: kv[1])
            if n * 3 >= letters:
                if lang == "zh" and counts.get("ja"):
                    return "ja"
                if lang in ("ru", "ar") and hint_code and _script_of(hint_code) == lang:
                    return hint_code  # Ukrainian, Bulgarian, Persian…: trust the feed
                return lang
    words = Counter(_WORD.findall(sample.lower()))
    if sum(words.values()) >= 4:
        scores = {lang: sum(words[w] for w in stop if w in words) for lang, stop in _STOPWORDS.items()}
        best = max(scores, key=lambda lang: scores[lang])
        top = scores[best]
        second = max(v for k, v in scores.items() if k != best)
        if top >= 2 and top > second:
            return best
    if hint_code and _script_of(hint_code) is None:
        return hint_code
    return None


_SCRIPT_OF_LANG = {"ru": "ru", "uk": "ru", "be": "ru", "bg": "ru", "sr": "ru", "mk": "ru", "kk": "ru",
                   "ar": "ar", "fa": "ar", "ur": "ar"}


def _script_of(code: str) -> str | None:
    return _SCRIPT_OF_LANG.get(code)


def _language_code(value: str | None) -> str | None:
    if not value:
        return None
    m = re.match(r"\s*([A-Za-z]{2,3})\b", value)
    return m.group(1).lower() if m else None


# --------------------------------------------------------------------------------------------
# The whole entry


def normalize_entry(
    entry: Entry,
    *,
    fetched_at: datetime,
    feed_language: str | None = None,
    limits: Limits | None = None,
    feed_published: datetime | None = None,
) -> Article:
    """One parsed entry -> one Article, or Rejected("no_title_or_link"). An entry without a
    readable date takes `feed_published` (the feed's own date), else `fetched_at`, and is marked
    `date_estimated`."""
    limits = limits or Limits()
    title = plain_text(entry.title, limits.max_title_chars)
    summary_source = entry.summary or entry.content
    summary = plain_text(summary_source, limits.max_summary_chars)
    link = safe_link(entry.link)
    guid_link = safe_link(entry.guid) if link is None and entry.guid and entry.guid.startswith(("http://", "https://")) else None
    link = link or guid_link
    if not title and not link:
        raise Rejected("no_title_or_link")
    content = clean_html(entry.content or entry.summary, limits.max_content_chars)
    guid = strip_controls(entry.guid.strip())[:2000] if entry.guid else None
    author = plain_text(entry.author, 300) or None
    shown_title = title or _fallback_title(summary, link)
    when = article_date(entry.published, feed_published, fetched_at)
    return Article(
        url_key=url_key(link),
        link=link,
        guid=guid or None,
        title=shown_title,
        summary=summary,
        content=content,
        published_at=when.when,
        title_hash=title_hash(title) if title else "",
        lang=detect_language(f"{title} {summary}", feed_language),
        author=author,
        date_estimated=when.estimated,
    )


def _fallback_title(summary: str, link: str | None) -> str:
    if summary:
        return _truncate(summary, 120)
    return link or ""
