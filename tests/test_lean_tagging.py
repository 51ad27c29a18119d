"""Tagging in a process that never loads scikit-learn: how pollers keep their memory small.

A poller ingests in its own process; the models it needs are trained, when missing, in a
child process. These tests run ingest in a fresh interpreter and look at what it imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import select

from monitor.store.schema import articles, tags

REPO = Path(__file__).resolve().parent.parent

FEED = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>
<link>https://wire.example/</link><description>news</description>
<item><title>Ransomware gang behind hospital hacks arrested in joint Europol operation</title>
<link>https://wire.example/1</link><description>Police seized servers used for extortion and data theft.</description></item>
<item><title>Interpol issues Red Notice for fugitive banker accused of money laundering</title>
<link>https://wire.example/2</link><description>The banker is wanted over laundered bribes and shell companies.</description></item>
<item><title>Local team wins the cup final</title>
<link>https://wire.example/3</link><description>Fans celebrated in the streets after the match.</description></item>
</channel></rss>"""

INGEST = textwrap.dedent(
    """
    import json, sys
    from monitor.ingest import ingest_document
    from monitor.store import Database
    db = Database(sys.argv[1])
    stats = ingest_document(db, sys.stdin.buffer.read(), source="wire")
    heavy = sorted({m.split(".")[0] for m in sys.modules} & {"sklearn", "scipy"})
    print(json.dumps({"new": stats.new_article_ids, "heavy": heavy}))
    """
)


def ingest_in_fresh_process(url: str) -> dict:
    done = subprocess.run([sys.executable, "-c", INGEST, url], input=FEED, capture_output=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def test_ingest_tags_without_loading_scikit_learn_training_in_a_child(db, db_url):
    """No models yet: they are bootstrapped in a child, and the ingesting process stays lean."""
    result = ingest_in_fresh_process(db_url)
    assert result["heavy"] == []
    assert len(result["new"]) == 3
    with db.read() as conn:
        status = dict(conn.execute(select(articles.c.id, articles.c.tag_status)).all())
        topic_tags = conn.execute(select(tags.c.article_id, tags.c.label, tags.c.model_version).where(tags.c.kind == "topic")).all()
        stance = conn.execute(select(tags.c.label).where(tags.c.kind == "stance", tags.c.target == "Interpol")).all()
    assert set(status.values()) == {"tagged"}
    by_article: dict[int, set[str]] = {}
    for r in topic_tags:
        by_article.setdefault(r.article_id, set()).add(r.label)
        assert r.model_version.startswith("topics-")
    assert "cybercrime" in by_article.get(result["new"][0], set())
    assert "interpol" in by_article.get(result["new"][1], set())
    assert not by_article.get(result["new"][2])  # the cup final is none of the topics
    assert len(stance) == 1  # the one article that names Interpol


REFRESH = textwrap.dedent(
    """
    import json, sys
    from monitor import classify
    from monitor.store import Database
    db = Database(sys.argv[1])
    classify.tag_articles(db, [int(sys.argv[2])], train_missing=False)  # with the model it has
    from monitor.classify.modelstore import active_version
    during = active_version(db, "topics")
    classify.bring_up_to_date(db)  # the run's end: the stale bootstrap is retrained, in a child
    heavy = sorted({m.split(".")[0] for m in sys.modules} & {"sklearn", "scipy"})
    print(json.dumps({"during": during, "heavy": heavy}))
    """
)


def test_a_stale_bootstrap_is_refreshed_at_the_runs_end_and_the_archive_retagged(db, db_url):
    from monitor.classify import training, upkeep
    from monitor.classify.modelstore import active_version
    from tests.test_classify import NEWS, add

    n = upkeep.REFRESH_MIN_ARTICLES
    first = [add(db, f"{title} ({i})", summary) for i in range(n) for title, summary in [NEWS[i % len(NEWS)]]]
    training.train(db, "topics")
    training.train(db, "stance")
    old = active_version(db, "topics")
    newest = [add(db, f"{title} (again {i})", summary) for i in range(n) for title, summary in [NEWS[i % len(NEWS)]]][-1]

    done = subprocess.run([sys.executable, "-c", REFRESH, db_url, str(newest)], capture_output=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert result["heavy"] == [] and result["during"] == old  # tagged at once, with the model it had
    new = active_version(db, "topics")
    assert new != old
    with db.read() as conn:
        versions = set(conn.execute(select(tags.c.model_version).where(tags.c.kind == "topic", tags.c.article_id == first[0])).scalars())
        statuses = set(conn.execute(select(articles.c.tag_status)).scalars())
    assert versions == {new}  # the oldest article was re-tagged by the refreshed model
    assert statuses == {"tagged"}


def _imports(module: str) -> set[str]:
    """The monitor modules a module imports anywhere in its code (inside functions too)."""
    import ast

    path = REPO / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = REPO / module.replace(".", "/") / "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("monitor"):
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names if (REPO / node.module.replace(".", "/") / f"{a.name}.py").exists())
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("monitor"))
    return out


def test_scoring_never_imports_training_or_decides_when_to_train():
    """Tagging with stored models is numpy only and never decides when to train: nothing the
    scoring module imports, at start-up or inside a function, reaches the fitting code or the
    service that owns that decision (classify.upkeep)."""
    seen, todo = set(), ["monitor.classify.tagging"]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(m for m in _imports(module) if m.startswith("monitor.classify") and m != "monitor.classify")
    assert "monitor.classify.training" not in seen
    assert "monitor.classify.upkeep" not in seen
    code = "import sys, monitor.classify.tagging; print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy'}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_model_kind_and_tag_kind_are_one_vocabulary(db):
    """A topic model is stored as "topics" and writes tags of kind "topic": one enum says both,
    and the strings already stored stay what they were."""
    from monitor import classify
    from monitor.classify.kinds import STANCES, ModelKind, Stance
    from monitor.classify.modelstore import list_models
    from tests.test_classify import NEWS, add

    ids = [add(db, title, summary) for title, summary in NEWS]
    classify.tag_articles(db, ids)
    assert {m["kind"] for m in list_models(db)} == {"topics", "stance"}
    with db.read() as conn:
        kinds = set(conn.execute(select(tags.c.kind)).scalars())
    assert kinds == {ModelKind.TOPICS.tag_kind, ModelKind.STANCE.tag_kind} == {"topic", "stance"}
    assert ModelKind.of_tag("topic") is ModelKind.TOPICS
    assert STANCES == ("FAVOR", "AGAINST", "NONE") == tuple(Stance)
