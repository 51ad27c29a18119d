"""Text to terms, in plain Python: the one place that decides what a feature is.

Fitting and tagging both call them (monitor.classify.features builds the TF-IDF rows from their
terms), so a stored model means the same thing in a poller that never imports scikit-learn. An
analyzer is described by a small dict (its "spec") that travels inside the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Analyzer = Callable[[str], list[str]]

_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token pattern
_SPACES = re.compile(r"\s\s+")
# Scripts written without spaces (Chinese, Japanese kana and kanji) become one token per
# character, so words and seed terms are runs of characters; Indic and Arabic vowel signs and
# viramas (not \w in Python) stay inside their word instead of splitting it.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_MARKS = "\u0900-\u0dff\u064b-\u065f\u0670"
CJK = re.compile(f"[{_CJK}]")
# A CJK character, or a run of other word characters and marks: written as runs of letters
# between runs of marks, the engine never tests a character twice (a third faster than the
# plain `(?:(?!CJK)[\\w MARKS])+`, which tests/test_features.py holds it equal to)
_LETTER = f"[^\\W{_CJK}]"
WORD = re.compile(f"[{_CJK}]|{_LETTER}+(?:[{_MARKS}]+{_LETTER}*)*|[{_MARKS}]+(?:{_LETTER}+[{_MARKS}]*)*")


def script_tokens(doc: str) -> list[str]:
    """Lower-cased words of any script: a CJK character is a word of its own, other words need
    two characters (scikit-learn's rule, which drops "a", "I", "s")."""
    return [w for w in WORD.findall(doc.lower()) if len(w) > 1 or "\u3040" <= w <= "\ufaff"]


def word_stem(doc: str, ngrams: tuple[int, int] = (1, 2), stems: tuple[int, ...] = (5, 7), scripts: bool = False) -> list[str]:
    """Words, word bigrams and word prefixes ("~коррупц", "~launder") in one pass.

    Prefixes are a cheap stemmer that works for any alphabet: Russian case endings and
    English suffixes fall away, so коррупция/коррупции/коррупционер share "~коррупц". It
    costs a few tokens per word where character n-grams cost several per character. With
    `scripts`, Chinese and Japanese text gives characters and character bigrams (script_tokens).
    """
    lo, hi = ngrams
    toks = script_tokens(doc) if scripts else _TOKEN.findall(doc.lower())
    out = list(toks) if lo <= 1 else []
    if hi >= 2 and len(toks) > 1:
        out += [f"{a} {b}" for a, b in zip(toks, toks[1:])]
    for n in stems:
        out += ["~" + t[:n] for t in toks if len(t) > n]
    return out


def words(doc: str, ngrams: tuple[int, int] = (1, 1)) -> list[str]:
    """Lower-cased word n-grams, joined by one space."""
    toks = _TOKEN.findall(doc.lower())
    lo, hi = ngrams
    out = list(toks) if lo <= 1 else []
    for n in range(max(lo, 2), hi + 1):
        out += [" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1)]
    return out


def chars(doc: str, ngrams: tuple[int, int] = (2, 5)) -> list[str]:
    """Character n-grams over the whole lower-cased text (they cross word boundaries)."""
    doc = _SPACES.sub(" ", doc.lower())
    lo, hi = ngrams
    return [doc[i : i + n] for n in range(lo, hi + 1) for i in range(len(doc) - n + 1)]


def chars_in_words(doc: str, ngrams: tuple[int, int] = (2, 5)) -> list[str]:
    """Character n-grams inside words, each word padded with a space on both sides."""
    lo, hi = ngrams
    out: list[str] = []
    for w in _SPACES.sub(" ", doc.lower()).split():
        w = f" {w} "
        for n in range(lo, hi + 1):
            if n >= len(w):
                out.append(w)  # a short word counts once, whole
                break
            out += [w[i : i + n] for i in range(len(w) - n + 1)]
    return out


_HASHTAG = re.compile(r"#(\w+)")
_HASHTAG_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def split_hashtags(doc: str) -> str:
    """Each camel-case hashtag followed by its words: "#StopHillary2016" -> "#StopHillary2016
    Stop Hillary 2016". The tag stays (it is a feature of its own); its words then meet the
    same words written out elsewhere. On SemEval-2016's training tweets this is worth about
    one point of F_avg (5-fold CV on the training file)."""
    if "#" not in doc:
        return doc

    def spell(m: re.Match) -> str:
        parts = _HASHTAG_PART.findall(m.group(1))
        return f"#{m.group(1)} {' '.join(parts)}" if len(parts) > 1 else m.group(0)

    return _HASHTAG.sub(spell, doc)


_KINDS: dict[str, Callable[..., list[str]]] = {
    "word_stem": word_stem,
    "word": words,
    "char": chars,
    "char_wb": chars_in_words,
}


def build(spec: dict) -> Analyzer:
    """The analyzer a spec describes, e.g. {"kind": "word", "ngrams": [1, 3]}; with
    "hashtags": true the text's hashtags are spelled out first (split_hashtags)."""
    kind = spec.get("kind")
    if kind not in _KINDS:
        raise ValueError(f"unknown analyzer {kind!r}")
    fn = _KINDS[kind]
    ngrams = tuple(spec.get("ngrams") or (1, 1))
    if kind == "word_stem":
        stems = tuple(spec.get("stems") or ())
        scripts = bool(spec.get("scripts"))
        analyze: Analyzer = lambda doc: fn(doc, ngrams, stems, scripts)  # noqa: E731
    else:
        analyze = lambda doc: fn(doc, ngrams)  # noqa: E731
    if spec.get("hashtags"):
        return lambda doc: analyze(split_hashtags(doc))
    return analyze
