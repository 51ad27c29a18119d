"""Text to features: words and word bigrams for meaning, word prefixes or character n-grams
for inflections and spelling.

Word uni/bigrams carry topical phrases ("money laundering"); word prefixes (topics) or
character n-grams (stance, on short texts) let Russian forms (коррупция, коррупции,
коррупционер) share evidence. All TF-IDF with sublinear term frequency. Texts are cut to a few
thousand characters so a 10 MB article costs the same as a long one.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

MAX_WORD_CHARS = 20_000  # words: enough for any real article body
MAX_CHAR_CHARS = 3_000  # characters: the lead carries the topic; n-grams cost per character

_TAG = re.compile(r"<[^>]{0,2000}>")
_URL = re.compile(r"https?://\S+|www\.\S+")
_SPACE = re.compile(r"\s+")


def clean_text(text: str | None) -> str:
    """Plain text: no markup, no URLs (they carry outlet names, not topics), one space."""
    if not text:
        return ""
    text = text[: MAX_WORD_CHARS * 2]
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    text = _URL.sub(" ", text)
    return _SPACE.sub(" ", text).strip()[:MAX_WORD_CHARS]


def article_text(title: str | None, summary: str | None, content: str | None = None) -> str:
    """The text a classifier sees for a stored article; the title leads (it says most)."""
    title = clean_text(title)
    summary = clean_text(summary)
    content = clean_text(content)
    body = summary
    if content and content[:200] != summary[:200]:
        body = f"{summary} {content}" if summary and summary[:100] not in content else content
    # the title counts twice: it says most (on AG News this is worth a quarter point of accuracy)
    return f"{title}. {title}. {body}".strip() if title else body


_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def word_stem_analyzer(word_ngrams: tuple[int, int] = (1, 2), stems: tuple[int, ...] = (5, 7)):
    """Words, word bigrams and word prefixes ("~коррупц", "~launder") in one pass.

    Prefixes are a cheap stemmer that works for any alphabet: Russian case endings and
    English suffixes fall away, so коррупция/коррупции/коррупционер share "~коррупц". It
    costs a few tokens per word where character n-grams cost several per character.
    """
    lo, hi = word_ngrams
    stems = tuple(stems)

    def analyze(doc: str) -> list[str]:
        toks = _TOKEN.findall(doc.lower())
        out = list(toks) if lo <= 1 else []
        if hi >= 2 and len(toks) > 1:
            out += [f"{a} {b}" for a, b in zip(toks, toks[1:])]
        for n in stems:
            out += ["~" + t[:n] for t in toks if len(t) > n]
        return out

    return analyze


@dataclass
class FeatureConfig:
    word_ngrams: tuple[int, int] = (1, 2)
    stems: tuple[int, ...] | None = (5, 7)  # word-prefix lengths; None: plain words
    char_ngrams: tuple[int, int] | None = None
    char_analyzer: str = "char_wb"
    min_df: int = 1
    char_min_df: int = 2
    max_df: float = 0.9
    max_features: int | None = 400_000

    def to_dict(self) -> dict:
        return {
            "word_ngrams": list(self.word_ngrams),
            "stems": list(self.stems) if self.stems else None,
            "char_ngrams": list(self.char_ngrams) if self.char_ngrams else None,
            "char_analyzer": self.char_analyzer,
            "min_df": self.min_df,
            "char_min_df": self.char_min_df,
            "max_df": self.max_df,
            "max_features": self.max_features,
        }


class Features:
    """Fitted vectorizers; `transform` gives one sparse row per text (word block, then char block)."""

    def __init__(self, word: TfidfVectorizer, char: TfidfVectorizer | None):
        self.word = word
        self.char = char

    @classmethod
    def fit(cls, texts: list[str], config: FeatureConfig | None = None) -> "Features":
        config = config or FeatureConfig()
        n = len(texts)
        # max_df as a fraction is meaningless on a handful of documents (tests, tiny bootstraps)
        max_df = config.max_df if n >= 20 else 1.0
        if config.stems:
            word = TfidfVectorizer(
                analyzer=word_stem_analyzer(tuple(config.word_ngrams), tuple(config.stems)), sublinear_tf=True,
                min_df=min(config.min_df, n) or 1, max_df=max_df, max_features=config.max_features, dtype=np.float32,
            )
            word.stem_config = {"word_ngrams": list(config.word_ngrams), "stems": list(config.stems)}
        else:
            word = TfidfVectorizer(
                ngram_range=tuple(config.word_ngrams), sublinear_tf=True, min_df=min(config.min_df, n) or 1,
                max_df=max_df, max_features=config.max_features, dtype=np.float32, lowercase=True,
            )
        word.fit([t[:MAX_WORD_CHARS] for t in texts])
        char = None
        if config.char_ngrams:
            char = TfidfVectorizer(
                analyzer=config.char_analyzer, ngram_range=tuple(config.char_ngrams), sublinear_tf=True,
                min_df=config.char_min_df if n >= 50 else 1, max_df=max_df, max_features=config.max_features,
                dtype=np.float32, lowercase=True,
            )
            char.fit([t[:MAX_CHAR_CHARS] for t in texts])
        return cls(word, char)

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        blocks = [self.word.transform([t[:MAX_WORD_CHARS] for t in texts])]
        if self.char is not None:
            blocks.append(self.char.transform([t[:MAX_CHAR_CHARS] for t in texts]))
        if len(blocks) == 1:
            return blocks[0].tocsr()
        # each block is L2-normalised; scale so the whole row has unit norm too
        return (sp.hstack(blocks, format="csr") * np.float32(1 / np.sqrt(len(blocks)))).tocsr()

    def feature_names(self) -> np.ndarray:
        names = [self.word.get_feature_names_out()]
        if self.char is not None:
            names.append(np.array([f"«{g}»" for g in self.char.get_feature_names_out()], dtype=object))
        return np.concatenate(names)

    def to_payload(self) -> dict:
        return {"word": _vectorizer_state(self.word), "char": _vectorizer_state(self.char) if self.char is not None else None}

    @classmethod
    def from_payload(cls, payload: dict) -> "Features":
        char = payload.get("char")
        return cls(_vectorizer_from_state(payload["word"]), _vectorizer_from_state(char) if char else None)


# A fitted vectorizer travels as its parameters, its vocabulary as one UTF-8 byte array (terms
# in column order, newline-separated: no term holds a newline, whitespace is normalised) and
# its idf weights. skops stores that in a few arrays instead of one object per term, and the
# blob holds nothing but builtins and numpy arrays.
_PARAMS = ("analyzer", "ngram_range", "lowercase", "sublinear_tf", "norm", "token_pattern", "strip_accents")


def _vectorizer_state(vec: TfidfVectorizer) -> dict:
    terms = vec.get_feature_names_out()
    params = {k: getattr(vec, k) for k in _PARAMS}
    params["ngram_range"] = list(params["ngram_range"])
    if callable(params["analyzer"]):  # our word+stem analyzer travels as its settings
        params["analyzer"] = {"word_stem": vec.stem_config}
    return {
        "params": params,
        "terms": np.frombuffer("\n".join(terms).encode("utf-8"), dtype=np.uint8).copy(),
        "idf": np.asarray(vec.idf_, dtype=np.float32),
    }


def _vectorizer_from_state(state: dict) -> TfidfVectorizer:
    params = dict(state["params"])
    params["ngram_range"] = tuple(params["ngram_range"])
    stem_config = None
    if isinstance(params["analyzer"], dict):
        stem_config = params["analyzer"]["word_stem"]
        params["analyzer"] = word_stem_analyzer(tuple(stem_config["word_ngrams"]), tuple(stem_config["stems"]))
    raw = bytes(np.asarray(state["terms"], dtype=np.uint8)).decode("utf-8")
    terms = raw.split("\n") if raw else []
    vec = TfidfVectorizer(**params, vocabulary={t: i for i, t in enumerate(terms)}, dtype=np.float32)
    vec._validate_vocabulary()
    vec.idf_ = np.asarray(state["idf"], dtype=np.float64)
    if stem_config is not None:
        vec.stem_config = stem_config
    return vec
