"""Features: our pure-Python analyzers and numpy TF-IDF rows equal scikit-learn's.

Pollers tag with these (no scikit-learn loaded), trainers fit with scikit-learn: if the two
disagreed, a stored model would score differently from how it was trained.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from monitor.classify import analyzers
from monitor.classify.features import SORT_PREFIX_BYTES, Analysed, FeatureConfig, Features, Rows, TermBlock, sorted_order

DOCS = [
    "Interpol issues a Red Notice for the CEO of a crypto exchange",
    "Интерпол объявил в розыск главу криптобиржи; коррупции   нет",
    "",
    "a",
    "Money-laundering\tring busted:  €40m seized in Operation «Dragon»",
    "  leading and trailing spaces  ",
]
TEXTS = DOCS * 5 + [f"{d} extra words {i}" for i, d in enumerate(DOCS)]  # repeated and varied
# the topic model's features and the stance model's
CONFIGS = pytest.mark.parametrize(
    "config",
    [FeatureConfig(), FeatureConfig(word_ngrams=(1, 3), stems=None, char_ngrams=(2, 5), char_analyzer="char", max_df=1.0)],
    ids=["topics", "stance"],
)


@pytest.mark.parametrize(
    "kind, builtin, ngrams",
    [("word", "word", (1, 1)), ("word", "word", (1, 3)), ("word", "word", (2, 2)), ("char", "char", (2, 5)),
     ("char", "char", (1, 3)), ("char_wb", "char_wb", (2, 5)), ("char_wb", "char_wb", (1, 4))],
)
def test_analyzers_produce_scikit_learns_terms(kind, builtin, ngrams):
    theirs = CountVectorizer(analyzer=builtin, ngram_range=ngrams).build_analyzer()
    ours = analyzers.build({"kind": kind, "ngrams": list(ngrams)})
    for doc in DOCS:
        assert Counter(ours(doc)) == Counter(theirs(doc)), doc


def test_word_stems_let_russian_forms_share_a_term():
    terms = set(analyzers.word_stem("коррупция коррупции коррупционер", (1, 1), (5,)))
    assert "~корру" in terms and {"коррупция", "коррупции", "коррупционер"} <= terms


@CONFIGS
@pytest.mark.parametrize("terms_per_pass", [10**9, 40], ids=["one-pass", "many-passes"])
def test_rows_equal_tfidf_vectorizer(config, terms_per_pass, monkeypatch):
    monkeypatch.setattr("monitor.classify.features._TERMS_PER_PASS", terms_per_pass)
    texts = TEXTS
    features = Features.fit(texts, config)
    ours = features.matrix(texts).toarray()
    blocks = []
    for block in features.blocks:
        vec = TfidfVectorizer(analyzer=analyzers.build(block.spec), sublinear_tf=True,
                              vocabulary={t: i for i, t in enumerate(block.terms)})
        vec.fit(texts)
        vec.idf_ = block.idf.astype(np.float64)
        blocks.append(vec.transform([t[: block.max_chars] for t in texts]).toarray())
    theirs = np.hstack(blocks) / np.sqrt(len(blocks))
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_model_payload_round_trips_to_the_same_rows():
    features = Features.fit(DOCS * 3, FeatureConfig(char_ngrams=(2, 4)))
    again = Features.from_payload(features.to_payload())
    a, b = features.transform(DOCS), again.transform(DOCS)
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_allclose(a.data, b.data)


def test_empty_text_is_an_empty_row_and_a_huge_one_is_cut():
    features = Features.fit(DOCS * 3)
    rows = features.transform(["", "interpol " * 2_000_000])
    assert isinstance(rows, Rows) and len(rows) == 2
    assert rows.indptr[1] == 0  # nothing for the empty text
    assert rows.indptr[2] > 0 and np.isclose(np.linalg.norm(rows.data), 1.0, atol=1e-4)


@CONFIGS
def test_fitting_gives_the_rows_that_transforming_gives(config):
    texts = TEXTS
    features, rows = Features.fit_transform(texts, config)
    again = features.transform(texts)
    np.testing.assert_array_equal(rows.indptr, again.indptr)
    np.testing.assert_array_equal(rows.indices, again.indices)
    np.testing.assert_allclose(rows.data, again.data, atol=1e-6)


@CONFIGS
def test_texts_counted_ahead_give_the_rows_they_give_fresh(config):
    texts = TEXTS
    spec, chars, _ = config.block_specs()[0]
    analysed = Analysed(spec, chars)
    analysed.add(texts[::2] + ["a text it never fits"], analyzers.build(spec))
    fresh, fresh_rows = Features.fit_transform(texts, config)
    ahead, ahead_rows = Features.fit_transform(texts, config, analysed)
    later = DOCS[::-1] + ["words it has never seen", "", texts[1]]  # counted ahead, not counted, new terms, nothing
    analysed.add(later[:2], analyzers.build(spec))
    for a, b in ((fresh_rows, ahead_rows), (fresh.transform(later), ahead.transform(later, analysed))):
        np.testing.assert_array_equal(a.indptr, b.indptr)
        np.testing.assert_array_equal(a.indices, b.indices)
        np.testing.assert_allclose(a.data, b.data, atol=1e-6)


TIES = [f"w{i % 7} w{i % 5} w{i % 3} shared common" for i in range(40)] + ["rare once", "Интерпол коррупция 洗钱"]


@pytest.mark.parametrize(
    "min_df, max_df, max_features",
    [(1, 1.0, None), (2, 0.9, None), (1, 0.5, None), (1, 1.0, 6), (2, 0.95, 3), (1, 1.0, 10**6)],
)
@pytest.mark.parametrize("terms_per_pass", [10**9, 25], ids=["one-pass", "many-passes"])
@pytest.mark.parametrize("ahead", [False, True], ids=["fresh", "counted-ahead"])
def test_fitted_vocabulary_and_idf_equal_scikit_learns(min_df, max_df, max_features, terms_per_pass, ahead, monkeypatch):
    monkeypatch.setattr("monitor.classify.features._TERMS_PER_PASS", terms_per_pass)
    spec = {"kind": "word_stem", "ngrams": [1, 2], "stems": [5, 7], "scripts": True}
    texts = TIES + DOCS
    analysed = None
    if ahead:  # some texts, in another order, and one it does not fit, counted first (as a warm child does)
        analysed = Analysed(spec, 4_000)
        analysed.add(["zebra crossings nobody fits", *texts[::-3]], analyzers.build(spec))
    block, rows = TermBlock.fit_transform(texts, spec, 4_000, min_df, max_df, max_features, analysed)
    vec = TfidfVectorizer(analyzer=analyzers.build(spec), sublinear_tf=True, min_df=min_df, max_df=max_df,
                          max_features=max_features, dtype=np.float32)
    theirs = vec.fit_transform(texts)
    assert block.terms == list(vec.get_feature_names_out())
    np.testing.assert_array_equal(block.idf, vec.idf_)
    np.testing.assert_allclose(rows.to_scipy().toarray(), theirs.toarray(), atol=1e-6)


LONG = "x" * SORT_PREFIX_BYTES


@pytest.mark.parametrize(
    "terms",
    [
        ["b", "a", "ab", "a b", "~ab", "B", "é", "e", "z"],
        # sharing the bytes numpy compares, so Python orders them: past the prefix, a NUL, a cut
        [LONG + "b", LONG + "a", LONG, LONG + "\x00", "y" * 40, "y" * 39 + "z", "y" * 39],
        # several scripts and widths of UTF-8 (2, 3 and 4 bytes), and code points sorted across them
        ["коррупция", "коррупц", "腐败", "汚職", "😀 emoji", "\uffff", "\U00010000", "Ω", "Ã", "\ud800"],
        [],
    ],
    ids=["latin", "long-shared-prefixes", "scripts", "none"],
)
def test_terms_are_sorted_as_python_sorts_them(terms):
    assert [terms[i] for i in sorted_order(terms)] == sorted(terms)


def test_a_large_shuffled_vocabulary_is_sorted_as_python_sorts_it():
    rng = np.random.default_rng(5)
    alphabet = list("aeiouklmnt ~") + ["ж", "ы", "中", "é"]
    terms = list({"".join(rng.choice(alphabet, size=rng.integers(1, 60))) for _ in range(20_000)})
    assert [terms[i] for i in sorted_order(terms)] == sorted(terms)


@pytest.mark.parametrize(
    "texts, min_df, max_df, message",
    [(["", "a"], 1, 1.0, "empty vocabulary"), (DOCS, 5, 1.0, "no terms remain"), (DOCS * 10, 30, 0.1, "max_df corresponds")],
)
def test_a_vocabulary_that_cannot_be_fitted_says_why_as_scikit_learn_does(texts, min_df, max_df, message):
    spec = {"kind": "word", "ngrams": [1, 1]}
    with pytest.raises(ValueError, match=message):
        TermBlock.fit_transform(texts, spec, 4_000, min_df, max_df, None)
    with pytest.raises(ValueError, match=message):
        TfidfVectorizer(analyzer=analyzers.build(spec), min_df=min_df, max_df=max_df).fit(texts)


SCRIPTS = [
    "हिन्दी समाचार: पुलिस ने तस्करों को गिरफ़्तार किया",  # Devanagari vowel signs and viramas
    "পুলিশ মাদক পাচারকারীদের গ্রেপ্তার করেছে",  # Bengali
    "الشرطة تعتقل مُهرّبين",  # Arabic with harakat
    "پولیس نے منشیات کے اسمگلروں کو گرفتار کر لیا",  # Urdu
    "警察は麻薬密売組織を摘発した。インターポール",  # Japanese: kanji and kana
    "警方破获洗钱案 a中b 12件",  # Chinese between Latin letters and digits
    "ु leading mark, trailing mark क्",  # marks at a word's edge
    "Straße Øresund İstanbul naïve café_bar 42",
]


def test_the_word_pattern_equals_its_plain_definition():
    import re

    from tests.conftest import SHARED_DATA

    plain = re.compile(f"[{analyzers._CJK}]|(?:(?![{analyzers._CJK}])[\\w{analyzers._MARKS}])+")
    texts = SCRIPTS + DOCS  # and real feeds in a dozen languages, where this machine has them
    for path in sorted((SHARED_DATA / "feeds" / "dev").glob("*.xml"))[:40]:
        texts.append(path.read_text(encoding="utf-8", errors="replace"))
    for text in texts:
        assert analyzers.WORD.findall(text.lower()) == plain.findall(text.lower())


@pytest.mark.parametrize(
    "raw, words",
    [("annou\u00adnced a money laun\u00addering probe", ["announced", "money", "laundering"]),
     ("Europol\u200bdismantled a ring", ["europol", "dismantled"]),
     ("red&shy;notice", ["rednotice"]),
     ("\ufeffInter\u2060pol notice", ["interpol", "notice"])],
)
def test_invisible_characters_do_not_split_words(raw, words):
    from monitor.classify.features import clean_text

    terms = analyzers.script_tokens(clean_text(raw))
    assert all(w in terms for w in words), terms


def test_the_joiners_a_script_spells_with_are_kept():
    from monitor.classify.features import clean_text

    assert clean_text("প্রশ্ন\u200cগুলো") == "প্রশ্ন\u200cগুলো"  # Bengali, with a zero-width non-joiner
