"""Text to features: words and word bigrams for meaning, word prefixes or character n-grams
for inflections and spelling.

Word uni/bigrams carry topical phrases ("money laundering"); word prefixes (topics) or
character n-grams (stance, on short texts) let Russian forms (коррупция, коррупции,
коррупционер) share evidence. All TF-IDF with sublinear term frequency. Texts are cut to a few
thousand characters so a 10 MB article costs the same as a long one.

Fitting a vocabulary and turning texts into rows need only numpy (what scikit-learn's
TfidfVectorizer computes, tests/test_features.py), so a poller tags without importing
scikit-learn or scipy (together about 150 MB of memory). Texts counted ahead (`Analysed`, by a
training child while a run stores articles) are not analysed again.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain, repeat

import numpy as np

from monitor.classify import analyzers

MAX_WORD_CHARS = 20_000  # words: enough for any real article body
MAX_CHAR_CHARS = 3_000  # characters: the lead carries the topic; n-grams cost per character
_TERMS_PER_PASS = 500_000  # terms counted at once when turning texts into rows (~40 MB)

_TAG = re.compile(r"<[^>]{0,2000}>")
# Soft hyphens ("annou\u00adnced"), word joiners and byte-order marks inside words split a word or
# a seed term in two: they go. A zero-width space separates words: it becomes a space. Zero-width
# (non-)joiners stay, Bengali spells with them.
_INVISIBLE = str.maketrans({"\u00ad": None, "\u2060": None, "\ufeff": None, "\u200b": " "})
_URL = re.compile(r"https?://\S+|www\.\S+")
_SPACE = re.compile(r"\s+")
SENTENCE_END = re.compile(r"(?<=[.!?»\"])\s+")


def clean_text(text: str | None) -> str:
    """Plain text: no markup, no URLs (they carry outlet names, not topics), one space."""
    if not text:
        return ""
    text = text[: MAX_WORD_CHARS * 2]
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    text = text.translate(_INVISIBLE)
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


def stored_key(title: str | None, summary: str | None, content: str | None) -> int:
    """Tells, within one process, whether an article's stored fields are the ones read before
    (and so give the same `article_text`)."""
    return hash((title, summary, content))


@dataclass
class Rows:
    """TF-IDF rows as compressed sparse rows in plain numpy arrays (one row per text)."""

    indptr: np.ndarray  # int64, len(rows) + 1
    indices: np.ndarray  # int32 feature columns
    data: np.ndarray  # float32 weights
    n_features: int

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def row_ids(self) -> np.ndarray:
        return np.repeat(np.arange(len(self)), np.diff(self.indptr))

    def to_scipy(self):
        """For training: scikit-learn's estimators take a scipy matrix."""
        import scipy.sparse as sp

        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=(len(self), self.n_features))

    @staticmethod
    def hstack(blocks: list[Rows], scale: float = 1.0) -> Rows:
        """Blocks side by side (same rows), every weight multiplied by `scale`."""
        n = len(blocks[0])
        offsets = np.cumsum([0] + [b.n_features for b in blocks])
        rows = np.concatenate([b.row_ids() for b in blocks])
        cols = np.concatenate([b.indices + np.int32(off) for b, off in zip(blocks, offsets)])
        data = np.concatenate([b.data for b in blocks]) * np.float32(scale)
        order = np.argsort(rows, kind="stable")
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))]).astype(np.int64)
        return Rows(indptr, cols[order].astype(np.int32), data[order].astype(np.float32), int(offsets[-1]))


def _term_ids() -> defaultdict[str, int]:
    """Term -> provisional id, a new term's id being the number of terms before it."""
    seen: defaultdict[str, int] = defaultdict()
    seen.default_factory = seen.__len__
    return seen


def _counted(term_lists: list[list[str]], seen: defaultdict[str, int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per text, its distinct terms as ascending provisional ids (new terms added to `seen`) and
    how often each occurs; the look-ups and counting run in C, for all the texts at once."""
    n = len(term_lists)
    lengths = np.fromiter(map(len, term_lists), dtype=np.int64, count=n)
    flat = np.fromiter(map(seen.__getitem__, chain.from_iterable(term_lists)), dtype=np.int64, count=int(lengths.sum()))
    width = max(1, len(seen))
    keys, counts = np.unique(np.repeat(np.arange(n, dtype=np.int64), lengths) * width + flat, return_counts=True)
    bounds = np.cumsum(np.bincount(keys // width, minlength=n))[:-1]
    return list(zip(np.split(keys % width, bounds), np.split(counts.astype(np.float32), bounds)))


@dataclass
class Analysed:
    """Texts the analyzer `spec` has read (their first `chars` characters) and what it found,
    counted: per text, its distinct terms as provisional ids (in the order `seen` first met
    them) and how often each occurs. Fitting renumbers ids into columns, so what is fitted does
    not depend on which texts were counted here first."""

    spec: dict
    chars: int
    seen: defaultdict[str, int] = field(default_factory=_term_ids)
    counted: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def add(self, texts: list[str], analyze: analyzers.Analyzer) -> None:
        """Count the texts not counted yet, _TERMS_PER_PASS terms at a time: the memory of one
        pass stays bounded however many and long the texts."""
        keys, found, size = [], [], 0
        for key in dict.fromkeys(t[: self.chars] for t in texts):
            if key not in self.counted:
                keys.append(key)
                found.append(analyze(key))
                size += len(found[-1])
                if size > _TERMS_PER_PASS:
                    self.counted.update(zip(keys, _counted(found, self.seen)))
                    keys, found, size = [], [], 0
        if keys:
            self.counted.update(zip(keys, _counted(found, self.seen)))

    def rows_of(self, texts: list[str], analyze: analyzers.Analyzer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids, counts, indptr) of these texts, counting those not counted yet."""
        keys = [t[: self.chars] for t in texts]
        self.add(keys, analyze)
        return _stacked([self.counted[k] for k in keys])

    def serves(self, spec: dict, chars: int) -> bool:
        return spec == self.spec and chars == self.chars


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
    hashtags: bool = False  # spell out camel-case hashtags before every block (analyzers.split_hashtags)
    scripts: bool = True  # CJK characters as words (analyzers.script_tokens); False: scikit-learn's tokens
    word_chars: int = MAX_WORD_CHARS  # characters of each text the word block reads

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
            "hashtags": self.hashtags,
            "scripts": self.scripts,
            "word_chars": self.word_chars,
        }

    def block_specs(self) -> list[tuple[dict, int, int]]:
        """(analyzer spec, characters read, min_df) per feature block."""
        if self.stems:
            word = {"kind": "word_stem", "ngrams": list(self.word_ngrams), "stems": list(self.stems), "scripts": self.scripts}
        else:
            word = {"kind": "word", "ngrams": list(self.word_ngrams)}
        out = [(word, self.word_chars, self.min_df)]
        if self.char_ngrams:
            out.append(({"kind": self.char_analyzer, "ngrams": list(self.char_ngrams)}, MAX_CHAR_CHARS, self.char_min_df))
        if self.hashtags:
            for spec, _, _ in out:
                spec["hashtags"] = True
        return out


def _count(term_lists: list[list[str]], column, missing: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, columns, counts) of these documents, columns ascending within each row; `column`
    maps a term to its column (-1: not a feature). The look-ups and counting run in C."""
    n = len(term_lists)
    lengths = np.fromiter(map(len, term_lists), dtype=np.int64, count=n)
    flat = list(chain.from_iterable(term_lists))
    looked = map(column, flat) if missing is None else map(column, flat, repeat(missing, len(flat)))
    cols = np.fromiter(looked, dtype=np.int64, count=len(flat))
    docs = np.repeat(np.arange(n, dtype=np.int64), lengths)
    known = cols >= 0
    width = max(1, int(cols.max()) + 1) if len(cols) else 1
    keys, counts = np.unique(docs[known] * width + cols[known], return_counts=True)
    per_doc = np.bincount(keys // width, minlength=n)
    indptr = np.concatenate([[0], np.cumsum(per_doc)])
    return indptr, keys % width, counts.astype(np.float32)


def _count_texts(analyze: analyzers.Analyzer, texts: list[str], max_chars: int, column, missing: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_count` over every text, _TERMS_PER_PASS terms at a time: the memory of one pass stays
    bounded however long the texts."""
    parts, batch, size = [], [], 0
    for text in texts:
        batch.append(analyze(text[:max_chars]))
        size += len(batch[-1])
        if size > _TERMS_PER_PASS:
            parts.append(_count(batch, column, missing))
            batch, size = [], 0
    if batch or not parts:
        parts.append(_count(batch, column, missing))
    indptr, indices, counts = parts[0]
    for more_indptr, more_indices, more_counts in parts[1:]:
        indptr = np.concatenate([indptr, more_indptr[1:] + indptr[-1]])
        indices = np.concatenate([indices, more_indices])
        counts = np.concatenate([counts, more_counts])
    return indptr, indices, counts


def _stacked(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, counts, indptr) of texts counted one by one (`_counted`)."""
    lengths = np.fromiter((len(p[0]) for p in parts), dtype=np.int64, count=len(parts))
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), indptr
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), indptr


SORT_PREFIX_BYTES = 32  # sorted by numpy on this many leading UTF-8 bytes; longer ties by Python


def sorted_order(terms: list[str]) -> np.ndarray:
    """The indices that put `terms` (distinct strings) in Python's `sorted` order.

    Sorting a bootstrap's 235 000 terms with `sorted(key=...)` took 0.27 s on the training
    child's longest path; this takes 0.12 s: UTF-8 bytes sort as code points do, so the first
    SORT_PREFIX_BYTES bytes of each term, read as four big-endian integers, are ordered by
    numpy's lexsort, and only runs of terms sharing those bytes are sorted again in full."""
    width = SORT_PREFIX_BYTES
    head = np.array([t.encode("utf-8", "surrogatepass") for t in terms], dtype=f"S{width}")
    order = np.lexsort(head.view(">u8").reshape(len(terms), width // 8).T[::-1]).astype(np.int64)
    heads = head[order]
    ties = np.flatnonzero(heads[1:] == heads[:-1])  # order[i] and order[i + 1] share a head
    if len(ties):
        starts = ties[np.r_[True, np.diff(ties) > 1]]
        ends = ties[np.r_[np.diff(ties) > 1, True]] + 2
        for start, end in zip(starts.tolist(), ends.tolist()):
            order[start:end] = sorted(order[start:end].tolist(), key=terms.__getitem__)
    return order


def _kept_terms(found: list[str], ids: np.ndarray, counts: np.ndarray, n: int, min_df: int, max_df: float,
                max_features: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(provisional ids of the kept terms in column order, their document frequencies): the cut
    scikit-learn makes, by document frequency and then the `max_features` most frequent terms."""
    high = max_df if isinstance(max_df, int) else max_df * n
    if high < min_df:
        raise ValueError("max_df corresponds to < documents than min_df")
    order = sorted_order(found)  # scikit-learn's column order
    df = np.bincount(ids, minlength=len(found))[order]
    keep = (df <= high) & (df >= max(min_df, 1))  # a term of none of these texts (counted ahead for others) is no feature
    if max_features is not None and keep.sum() > max_features:
        # ties fall as numpy's default sort puts them, as in scikit-learn
        tf = np.bincount(ids, weights=counts, minlength=len(found))[order].astype(np.float32)
        best = np.zeros(len(keep), dtype=bool)
        best[np.flatnonzero(keep)[(-tf[keep]).argsort()[:max_features]]] = True
        keep = best
    if not keep.any():
        raise ValueError("After pruning, no terms remain. Try a lower min_df or a higher max_df.")
    return order[keep], df[keep]


class TermBlock:
    """One fitted TF-IDF block: an analyzer, its vocabulary in column order, idf weights."""

    def __init__(self, spec: dict, max_chars: int, terms: list[str], idf: np.ndarray):
        self.spec = spec
        self.max_chars = max_chars
        self.terms = terms
        self.idf = np.asarray(idf, dtype=np.float32)
        self._analyze = analyzers.build(spec)
        self._ahead: tuple[Analysed, np.ndarray] | None = None  # set by fit_transform

    @cached_property
    def vocabulary(self) -> dict[str, int]:
        """Term -> column; built when first needed (a re-tag right after fitting may not)."""
        return dict(zip(self.terms, range(len(self.terms))))

    @classmethod
    def fit(cls, texts: list[str], spec: dict, max_chars: int, min_df: int, max_df: float, max_features: int | None) -> TermBlock:
        return cls.fit_transform(texts, spec, max_chars, min_df, max_df, max_features)[0]

    @classmethod
    def fit_transform(
        cls, texts: list[str], spec: dict, max_chars: int, min_df: int, max_df: float, max_features: int | None,
        analysed: Analysed | None = None,
    ) -> tuple[TermBlock, Rows]:
        """The fitted block and the texts' rows from one pass of the analyzer.

        What scikit-learn's TfidfVectorizer(sublinear_tf=True) fits (the same vocabulary, idf and
        rows: tests/test_features.py holds them side by side), computed here because its fit
        walks every term in Python and then transforming analyses every text again: together
        two thirds of a bootstrap's training time. Terms get provisional ids in the order met;
        the vocabulary is then cut and sorted as scikit-learn does it, and the ids renumbered."""
        ahead = analysed if analysed is not None and analysed.serves(spec, max_chars) else None
        counting = ahead or Analysed(spec, max_chars)
        ids, counts, indptr = counting.rows_of(texts, analyzers.build(spec))
        if not len(ids):
            raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
        found = list(counting.seen)
        kept, df = _kept_terms(found, ids, counts, len(texts), min_df, max_df, max_features)
        smoothed = df.astype(np.float32) + 1  # in float32, as scikit-learn computes it
        block = cls(spec, max_chars, np.array(found, dtype=object)[kept].tolist(), np.log(np.full_like(smoothed, len(texts) + 1) / smoothed) + 1)
        # renumber: drop the cut terms, and keep each row's columns in ascending order
        column = np.full(len(found), -1, dtype=np.int64)
        column[kept] = np.arange(len(kept))
        if ahead:  # a re-tag right after reads the passages counted ahead by these ids
            block._ahead = (ahead, column)
        return block, block._renumbered(indptr, ids, counts, column)

    def _renumbered(self, indptr: np.ndarray, ids: np.ndarray, counts: np.ndarray, column: np.ndarray) -> Rows:
        """Rows from provisional ids: `column[id]` is an id's column, -1 for a term not kept."""
        row = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
        cols = np.where(ids < len(column), column[np.minimum(ids, len(column) - 1)], -1)
        known = cols >= 0
        row, cols, counts = row[known], cols[known], counts[known]
        by = np.argsort(row * max(1, len(self.terms)) + cols)  # by row, then column: one key sorts faster than two
        indptr = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=len(indptr) - 1))])
        return self._weighed(indptr, cols[by].astype(np.int32), counts[by])

    def transform(self, texts: list[str], analysed: Analysed | None = None) -> Rows:
        """Sublinear TF x IDF, each row scaled to unit length (what TfidfVectorizer computes);
        `analysed` answers for the texts it holds."""
        if self._ahead is not None and analysed is self._ahead[0]:
            ahead, column = self._ahead
            ids, counts, indptr = ahead.rows_of(texts, self._analyze)
            return self._renumbered(indptr, ids, counts, column)
        indptr, indices, counts = _count_texts(self._analyze, texts, self.max_chars, self.vocabulary.get, -1)
        return self._weighed(indptr, indices.astype(np.int32), counts)

    def _weighed(self, indptr: np.ndarray, indices: np.ndarray, counts: np.ndarray) -> Rows:
        data = ((np.log(counts) + 1) * self.idf[indices]).astype(np.float32)
        rows = Rows(indptr.astype(np.int64), indices, data, len(self.terms))
        ids = rows.row_ids()
        norms = np.sqrt(np.bincount(ids, weights=np.square(data, dtype=np.float64), minlength=len(rows)))
        rows.data /= norms[ids].astype(np.float32)
        return rows

    def to_payload(self) -> dict:
        # the vocabulary travels as one UTF-8 byte array (terms in column order, newline-
        # separated: no term holds a newline, whitespace is normalised): a few arrays, not one
        # object per term
        return {
            "analyzer": dict(self.spec), "max_chars": self.max_chars,
            "terms": np.frombuffer("\n".join(self.terms).encode("utf-8"), dtype=np.uint8).copy(),
            "idf": self.idf,
        }

    @classmethod
    def from_payload(cls, p: dict) -> TermBlock:
        raw = bytes(np.asarray(p["terms"], dtype=np.uint8)).decode("utf-8")
        return cls(dict(p["analyzer"]), int(p["max_chars"]), raw.split("\n") if raw else [], p["idf"])


class Features:
    """Fitted term blocks; `transform` gives one row per text (word block, then char block)."""

    def __init__(self, blocks: list[TermBlock]):
        self.blocks = blocks

    @classmethod
    def fit(cls, texts: list[str], config: FeatureConfig | None = None) -> Features:
        return cls.fit_transform(texts, config)[0]

    @classmethod
    def fit_transform(cls, texts: list[str], config: FeatureConfig | None = None, analysed: Analysed | None = None) -> tuple[Features, Rows]:
        """Fitted features and the training texts' rows (what `transform` gives them), in one pass;
        `analysed` answers for the texts it holds."""
        config = config or FeatureConfig()
        n = len(texts)
        # max_df as a fraction is meaningless on a handful of documents (tests, tiny bootstraps)
        max_df = config.max_df if n >= 20 else 1.0
        blocks, parts = [], []
        for k, (spec, cut, min_df) in enumerate(config.block_specs()):
            # a word seen once can matter; a rare character n-gram is noise unless texts are few
            floor = (min(min_df, n) or 1) if k == 0 else (min_df if n >= 50 else 1)
            block, rows = TermBlock.fit_transform(texts, spec, cut, floor, max_df, config.max_features, analysed)
            blocks.append(block)
            parts.append(rows)
        return cls(blocks), _joined(parts)

    def transform(self, texts: list[str], analysed: Analysed | None = None) -> Rows:
        return _joined([b.transform(texts, analysed) for b in self.blocks])

    def matrix(self, texts: list[str]):
        """The rows as a scipy matrix, for fitting."""
        return self.transform(texts).to_scipy()

    def feature_names(self) -> list[str]:
        names: list[str] = []
        for b in self.blocks:
            names += b.terms if b.spec["kind"].startswith("word") else [f"«{g}»" for g in b.terms]
        return names

    def to_payload(self) -> dict:
        return {"blocks": [b.to_payload() for b in self.blocks]}

    @classmethod
    def from_payload(cls, payload: dict) -> Features:
        return cls([TermBlock.from_payload(b) for b in payload["blocks"]])


def _joined(parts: list[Rows]) -> Rows:
    if len(parts) == 1:
        return parts[0]
    # each block has unit length; scale so the whole row has unit length too
    return Rows.hstack(parts, 1 / np.sqrt(len(parts)))
