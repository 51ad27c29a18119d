"""Stance where analysts look for it: targets named in the feeds' languages get a stance, and the
Coverage page says how many articles concern each target, so an empty stance chart is explained."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

import monitor.classify as classify
from monitor.filters import Filters
from monitor.mentions import target_mentions
from monitor.store.schema import tags
from tests.dashboard_app import assert_clean, make_app, texts
from tests.factories import add_article
from tests.test_classify import add

# One item per language of the feeds, each naming Interpol (or Europol) as a newspaper would.
NAMED = {
    "en": ("Interpol issues a red notice for the fugitive banker", "Interpol"),
    "de": ("Interpol-Haftbefehl gegen den Ex-Minister", "Interpol"),
    "fr": ("L'Organisation internationale de police criminelle lance un avis de recherche", "Interpol"),
    "es": ("La Interpol detiene a un narcotraficante en Madrid", "Interpol"),
    "pt": ("Interpol prende fugitivo procurado no Brasil", "Interpol"),
    "ru": ("Беглого банкира объявили в розыск по линии Интерпола", "Interpol"),
    "uk": ("Інтерпол оголосив у розшук колишнього посадовця", "Interpol"),
    "zh": ("中国国际刑警组织发布红色通缉令", "Interpol"),
    "zh-Hant": ("國際刑警組織發布紅色通緝令", "Interpol"),
    "ja": ("インターポールが容疑者を国際手配", "Interpol"),
    "bn": ("ইন্টারপোলের রেড নোটিশ জারি", "Interpol"),
    "ur": ("انٹرپول نے ریڈ نوٹس جاری کر دیا", "Interpol"),
    "sk": ("Polícia požiadala o pomoc Interpolu", "Interpol"),
    "en-eu": ("Europol dismantles a cocaine network in six countries", "Europol"),
    "ru-eu": ("Европол ликвидировал сеть наркоторговцев", "Europol"),
    "zh-eu": ("欧洲刑警组织捣毁贩毒网络", "Europol"),
    "ja-eu": ("ユーロポールが麻薬組織を摘発", "Europol"),
}
# Words that share letters with an alias but are about something else.
NOT_NAMED = [
    "Интерполяция данных в новой версии Excel",  # interpolation
    "Linear interpolation of missing sensor values",
    "Interpolated frames make the film smoother",
]


def stances_of(db, article_id: int) -> set[str]:
    with db.read() as conn:
        return set(conn.execute(select(tags.c.target).where(tags.c.kind == "stance", tags.c.article_id == article_id)).scalars())


def test_a_target_named_in_any_feed_language_gets_a_stance(db):
    named = {lang: add(db, title) for lang, (title, _) in NAMED.items()}
    other = [add(db, title) for title in NOT_NAMED]
    classify.tag_articles(db, [*named.values(), *other])
    got = {lang: stances_of(db, aid) for lang, aid in named.items()}
    assert got == {lang: {target} for lang, (_, target) in NAMED.items()}
    assert all(stances_of(db, aid) == set() for aid in other)


def test_mentions_count_the_articles_naming_each_target_and_those_without_a_stance(db):
    add_article(db, "Interpol red notice for a banker", "2025-03-02", stances={"Interpol": "AGAINST"})
    add_article(db, "Интерпол объявил в розыск", "2025-03-03", stances={"Interpol": "NONE"})
    # tagged before the target's aliases reached Chinese: it names Interpol but has no stance
    add_article(db, "国际刑警组织发布红色通缉令", "2025-03-04", source="Xinhua")
    add_article(db, "Interpolation in Excel", "2025-03-04")
    add_article(db, "Interpol in an older window", "2025-01-10", stances={"Interpol": "FAVOR"})
    window = Filters(date_from=date(2025, 3, 1), date_to=date(2025, 3, 31))
    m = target_mentions(db, window)
    assert (m.of("Interpol").mentions, m.of("Interpol").without_stance) == (3, 1)
    assert (m.of("Europol").mentions, m.of("Europol").without_stance) == (0, 0)
    assert (m.read, m.matching, m.sampled) == (4, 4, False)
    narrowed = target_mentions(db, Filters(date_from=date(2025, 3, 1), sources=("Xinhua",)))
    assert narrowed.of("Interpol").mentions == 1
    # the stance filter does not hide mentions: the note explains the whole chart
    assert target_mentions(db, Filters(date_from=date(2025, 3, 1), stance="FAVOR", target="Interpol")).of("Interpol").mentions == 3
    # a stance tag from an alias since removed ("интерпол*" also caught interpolation)
    add_article(db, "Интерполяция данных в Excel", "2025-03-01", stances={"Interpol": "NONE"})
    assert target_mentions(db, window).of("Interpol").stale == 1
    sample = target_mentions(db, window, sample=2)
    assert sample.sampled and sample.read == 2 and sample.of("Interpol").mentions == 1  # the two newest
    assert sample.of("Interpol").stale == 0  # the stale one is older than the sample


@pytest.fixture
def coverage_store(monkeypatch, db):
    add_article(db, "Interpol red notice for a banker", "2025-03-02", stances={"Interpol": "AGAINST"})
    add_article(db, "Интерпол объявил в розыск", "2025-03-03", stances={"Interpol": "NONE"})
    add_article(db, "国际刑警组织发布红色通缉令", "2025-03-04")
    add_article(db, "Storm over the north sea", "2025-03-05", topics=["terrorism"])
    add_article(db, "Интерполяция данных в Excel", "2025-03-06", stances={"Interpol": "NONE"})  # an old alias's tag
    return db


def test_the_coverage_page_says_how_many_articles_concern_each_target(monkeypatch, db_url, coverage_store):
    at = make_app(monkeypatch, db_url)
    at.query_params["from"] = "2025-03-01"
    at.query_params["to"] = "2025-03-31"
    at.run()
    assert_clean(at)
    page = texts(at)
    assert "3 of the 5 articles in this window mention Interpol; stance is shown from 3 articles." in page
    assert "1 article naming it has no stance tag yet" in page and "re-tag the archive" in page
    assert "1 article with a stance toward it no longer names it" in page
    at.selectbox(key="coverage_target").select("Europol").run()
    assert_clean(at)
    info = " ".join(i.value for i in at.info)
    assert "None of the 5 articles in this window mentions Europol, so there is no stance to show." in info


def test_the_alias_pre_check_never_changes_what_matches():
    import re

    from monitor.classify.taxonomy import compile_terms, load_taxonomy, term_pattern

    samples = [title for title, _ in NAMED.values()] + NOT_NAMED + [
        "INTERPOL", "Interpol's chief", "the europeans", "Police officers", "ΙΝΤΕΡΠΌΛ", "ИНТЕРПОЛА", "a cyber-attack",
        "", "crisis", "Europäischen Polizeiamt", "ICPO-Interpol", "المنظمة الدولية للشرطة الجنائية الإنتربول",
    ]
    for target in load_taxonomy().targets:
        fast = compile_terms(target.aliases)
        plain = re.compile("|".join(f"(?:{term_pattern(a)})" for a in target.aliases), re.IGNORECASE)
        for text in samples:
            assert bool(fast.search(text)) == bool(plain.search(text)), (target.name, text)
            assert fast.sub("X", text) == plain.sub("X", text), (target.name, text)
