"""The seed-term matcher finds what a word-by-word comparison with every term finds, in text
order, with the exclusions dropped, in every script."""

from __future__ import annotations

import pytest

from monitor.classify.analyzers import WORD
from monitor.classify.taxonomy import TermMatcher, load_taxonomy
from tests.test_features import DOCS, SCRIPTS


def _reference(groups: dict[str, tuple[str, ...]], text: str) -> list[tuple[str, int, int, str]]:
    """Every term tried at every word: slow and plain."""
    words = [(m.group(0), m.start(), m.end()) for m in WORD.finditer(text.lower())]
    terms = []
    for group, group_terms in groups.items():
        for term in group_terms:
            parts = [(m.group(0), term[m.end() : m.end() + 1] == "*") for m in WORD.finditer(term.lower())]
            if parts:
                terms.append((group, parts))
    out = []
    for i in range(len(words)):
        hits = []
        for group, parts in terms:
            window = words[i : i + len(parts)]
            if len(window) == len(parts) and all(w.startswith(p) if star else w == p for (p, star), (w, _, _) in zip(parts, window)):
                hits.append((len(parts[0][0]) if parts[0][1] else 0, group, parts))
        # the matcher reports a word's exact terms first, then its prefix terms by prefix length
        for _, group, parts in sorted(hits, key=lambda h: h[0]):
            k = len(parts)
            out.append((group, words[i][1], words[i + k - 1][2], " ".join(w for w, _, _ in words[i : i + k])))
    return out


TEXTS = DOCS + SCRIPTS + [
    "Money laundering, money-laundering and laundered money; MONEY LAUNDERERS",
    "drug traffickers trafficked drugs; a drug test; cyber attack cyberattacks",
    "洗钱 案 毒品走私 警方 抵制毒 制毒",
    "коррупция коррупционер взятка взяточник хабар Хабаровск",
    "ab abc abcd zz yy zzz yyy q qq",
]


@pytest.mark.parametrize("which", ["topics", "targets", "made up"])
def test_the_matcher_finds_what_comparing_every_term_finds(which):
    taxonomy = load_taxonomy()
    if which == "topics":
        groups = {t.name: t.terms for t in taxonomy.topics}
    elif which == "targets":
        groups = {t.name: t.aliases for t in taxonomy.targets}
    else:
        groups = {"x": ("ab*", "q", "zz* yy*", "abc"), "y": ("a*", "zz yy*")}
    matcher = TermMatcher(groups)
    for text in TEXTS:
        assert matcher.find(text) == _reference(groups, text), text
