"""Weak labels for the topic bootstrap: the shipped examples, and how strongly an article's
seed terms make it a positive of their topic (by how often and where in the text they stand).

Plain Python over the taxonomy's matcher: no model is fitted here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from monitor.classify.analyzers import CJK
from monitor.classify.stance import PLACEHOLDER
from monitor.classify.taxonomy import TermMatcher

DATA_DIR = Path(__file__).resolve().parent / "data"


# ---------------------------------------------------------------- shipped examples


def topic_examples() -> list[tuple[str, tuple[str, ...]]]:
    """(text, topics) hand-written for the bootstrap; an empty topic set is a negative."""
    out = []
    path = DATA_DIR / "topic_examples.tsv"
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        labs, _, text = line.partition("\t")
        topics = tuple(t.strip() for t in labs.split(";") if t.strip() and t.strip() != "-")
        out.append((text.strip(), topics))
    return out


def stance_examples() -> list[tuple[str, str]]:
    """(text with the target as a placeholder, stance) for the bootstrap stance model."""
    out = []
    for line in (DATA_DIR / "stance_examples.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        stance, _, text = line.partition("\t")
        out.append((text.replace("TARGET", PLACEHOLDER).strip(), stance.strip().upper()))
    return out


# ---------------------------------------------------------------- weak labels


# A feed item (a headline and a sentence or two: half of them have under 30 words of body) that
# names a seed term is about the topic far more often than a long article that names it in
# passing. What counts is where the terms stand:
# - in the headline, with a second mention: the subject;
# - mentions spread over the article (the first and last SPREAD_WORDS apart, three or more): a
#   story that keeps coming back to it;
# - otherwise news puts its subject in the lead: the first mention counts fully within the first
#   LEAD_WORDS words of the body (all of a short item), less and less after that, and not at all
#   from PASSING_WORDS on (two drug words in one side paragraph of a report on a naval blockade,
#   one "corruption" in the tenth paragraph of an election story); and a single term counts less
#   the longer the article goes on about other things, nothing from LONG_ARTICLE_WORDS on.
# What counts not at all is left to the model, which decides from the context.
LEAD_WORDS = 60
PASSING_WORDS = 120
SPREAD_WORDS = 100
LONG_ARTICLE_WORDS = 400
# Chinese and Japanese put no spaces between words (a 4 000-character article splits into a few
# dozen "words" at its Latin names and punctuation): there a word is about this many characters.
CJK_CHARS_PER_WORD = 1.7


def word_count(text: str) -> int:
    """Words in `text`, in any script: whitespace-separated words, and runs of Chinese or
    Japanese characters counted at CJK_CHARS_PER_WORD characters a word."""
    cjk = len(CJK.findall(text))
    if not cjk:
        return len(text.split())
    return len(CJK.sub(" ", text).split()) + round(cjk / CJK_CHARS_PER_WORD)


@dataclass(frozen=True)
class Evidence:
    occurrences: int
    distinct: int
    in_title: bool
    first_word: int = 0  # where the first mention in the body stands, in words from its start
    words: int = 0  # of the body
    last_word: int = 0  # where the last mention in the body stands

    @property
    def weight(self) -> float:
        """How strongly the seed terms make this article a positive of their topic, 0 to 1."""
        if self.in_title and (self.distinct >= 2 or self.occurrences >= 2):
            return 1.0
        if self.occurrences >= 3 and self.last_word - self.first_word >= SPREAD_WORDS:
            return 1.0
        lead = (PASSING_WORDS - self.first_word) / (PASSING_WORDS - LEAD_WORDS)
        if self.distinct >= 2 or self.occurrences >= 3:
            return max(0.0, min(1.0, lead))
        length = (LONG_ARTICLE_WORDS - self.words) / (LONG_ARTICLE_WORDS - LEAD_WORDS)
        return max(0.0, min(1.0, lead, length))

    @property
    def strong(self) -> bool:
        return self.weight > 0


def seed_evidence(matcher: TermMatcher, title: str, text: str) -> tuple[dict[str, Evidence], list[tuple[int, int]]]:
    """Per topic: how the seed terms occur in the text; and the spans of all matches."""
    found = matcher.find(text)
    # article_text starts "title. title. body": count the title once, and know it as the title
    first = len(title) + 2 if title and text.startswith(title) else 0
    second = 2 * first
    by: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for group, start, _end, words in found:
        if start >= first:
            by[group].append((start, words))
    body_words = word_count(text[second:])
    out = {}
    for group, hits in by.items():
        body = [s for s, _ in hits if s >= second]
        # a title the body never comes back to: as if the first mention came at the body's end
        at = word_count(text[second : body[0]]) if body else body_words
        last = at + word_count(text[body[0] : body[-1]]) if body else body_words
        out[group] = Evidence(len(hits), len({w for _, w in hits}), any(s < second for s, _ in hits), at, body_words, last)
    return out, [(s, e) for _, s, e, _ in found]


def blank_spans(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    parts, last = [], 0
    for s, e in sorted(spans):
        if s >= last:
            parts.append(text[last:s])
            parts.append(" ")
            last = e
    parts.append(text[last:])
    return "".join(parts)
