"""Models: how well the topic and stance classifiers do, the labels they learn from, retraining."""

import pandas as pd
import streamlit as st

from monitor.errors import MonitorError
from views import components as ui

db = ui.database()
st.title("Models")

from monitor import classify  # noqa: E402

try:
    status = classify.model_status(db)
except MonitorError as e:
    ui.show_error(e)
    st.stop()

KIND_TITLES = {"topics": "Topic model", "stance": "Stance model"}
notice = st.session_state.pop("models_notice", None)
if notice:
    st.success(notice)
counts = status.get("articles", {})
labels = status.get("labels", {})
waiting = sum(int(v.get("waiting", 0)) for v in labels.values())

c1, c2, c3, c4 = st.columns(4)
c1.metric("Tagged articles", f"{counts.get('tagged', 0):,}")
c2.metric("Waiting to be tagged", f"{counts.get('pending', 0):,}")
c3.metric("Tagging failed", f"{counts.get('failed', 0):,}", help="Stored untagged with the reason (see the article); tagged again after the next training.")
c4.metric("Labels waiting for training", f"{waiting:,}", help="Corrections analysts made since the last training: the next training learns from them.")


FACT_NAMES = {
    "bootstrap": "Trained from seed terms only (bootstrap)",
    "articles": "Stored articles learned from",
    "archive_articles": "Articles in the archive then",
    "examples": "Hand-written examples",
    "analyst_labels": "Analyst labels",
    "rows": "Training rows",
    "topics": "Topics",
    "seconds": "Training time (s)",
    "bootstrap_examples": "Hand-written stance examples",
}


def _cell(value) -> str:
    """One readable cell: lists joined, mappings as "key: value", floats rounded."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {_cell(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def _facts_table(info: dict) -> pd.DataFrame:
    """A training summary as two readable columns instead of raw JSON."""
    return pd.DataFrame(
        [{"what": FACT_NAMES.get(k, k.replace("_", " ").capitalize()), "value": _cell(v)} for k, v in info.items()],
        columns=["what", "value"],
    )


def _per_row_table(block: dict, first: str) -> pd.DataFrame:
    """{name: {metric: value}} -> one row per name, one column per metric (numbers rounded)."""
    rows = []
    for name, values in block.items():
        row = {first: name}
        if isinstance(values, dict):
            for k, v in values.items():
                row[k.replace("_", " ")] = round(v, 3) if isinstance(v, float) else (v if isinstance(v, (int, str, bool)) or v is None else _cell(v))
        rows.append(row)
    return pd.DataFrame(rows)


def _estimate(e) -> str:
    if e.value is None:
        return "—"
    return f"{e.value:.0%} ({e.low:.0%}–{e.high:.0%})"


def _trust_table(quality) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "topic": q.topic,
                "precision (95 % interval)": _estimate(q.precision),
                "tagged and labelled": q.precision.n,
                "recall (95 % interval)": _estimate(q.recall),
                "labelled about it": q.recall.n,
                "labels": q.labels,
                "labels since training": q.since_training,
            }
            for q in quality
        ],
        columns=["topic", "precision (95 % interval)", "tagged and labelled", "recall (95 % interval)", "labelled about it", "labels", "labels since training"],
    )


def _changes_table(report) -> pd.DataFrame:
    return pd.DataFrame(
        [{"topic": t.topic, "tagged before": t.before, "tagged after": t.after, "added": t.added, "removed": t.removed} for t in report.topics],
        columns=["topic", "tagged before", "tagged after", "added", "removed"],
    )


def _topic_sections(active: dict) -> None:
    """How far to trust each topic's tags, and what the last re-tag with this version changed."""
    st.markdown("**How far to trust each topic**")
    try:
        quality = classify.topic_quality(db)
    except MonitorError as e:
        ui.show_error(e)
        quality = []
    if not quality:
        st.caption(
            "No analyst labels on stored articles yet, so no estimate: label articles on the Review page (a few per topic) "
            "to see how often the tags are right (precision) and how many relevant articles they find (recall)."
        )
    else:
        trust = _trust_table(quality)
        st.dataframe(trust, hide_index=True, placeholder="—", width="stretch")
        st.caption(
            "Analysts' labels against the tags the articles carry now. Precision: of the labelled articles that carry the tag, "
            "the share labelled about it; recall: of those labelled about it, the share that carries the tag. The interval "
            "(95 %, Wilson) is how far the true figure may be from the estimate: with a handful of labels it is wide, so read a "
            "chart of that topic with care. The model learned from the labels given before its training, so the figures lean "
            "optimistic; labels given since are a fair check."
        )
        ui.download(trust, label="Download trust figures (CSV)", file_name="topic-trust.csv", key="dl_trust", title=f"Topic precision and recall from analysts' labels, model {active.get('version')}")
    st.markdown("**What the last re-tag changed**")
    reports = classify.retags(db, active["version"])
    if not reports:
        st.info("This version has not been applied to the stored articles yet: re-tag the archive (below) to apply it and see what changes.", icon=":material/sell:")
        return
    last = reports[0]
    st.caption(
        f"Re-tagged {last.articles:,} articles with this version on {last.at:%Y-%m-%d %H:%M} UTC: "
        f"{last.added:,} topic tags added, {last.removed:,} removed."
    )
    changes = _changes_table(last)
    st.dataframe(changes, hide_index=True, placeholder="—", width="content")
    ui.download(changes, label="Download tag changes (CSV)", file_name="tag-changes.csv", key="dl_changes", title=f"Topic tags changed by the re-tag with {active['version']}")


for kind in ("topics", "stance"):
    info = (status.get("models") or {}).get(kind) or {}
    active = info.get("active")
    st.subheader(KIND_TITLES[kind])
    if not active:
        st.info(
            "No model yet. One is bootstrapped from the taxonomy's seed terms when the first articles are tagged, or train one below."
            if kind == "topics"
            else "No stance model yet. Targets without labels get a bootstrap model; label stances on the Articles page, then train.",
            icon=":material/hourglass_empty:",
        )
        continue
    st.caption(f"Active version {active.get('version')} · trained {active.get('created_at') or 'at an unknown time'} (UTC)")
    if active.get("bootstrap"):
        st.warning(
            "Bootstrap model: trained from the taxonomy's seed terms (weak labels), not from analysts' labels yet. "
            "Label articles on the Review page (or correct tags on the Articles page), then train: each label is used from the next training on."
            if kind == "topics"
            else "Bootstrap model: trained from hand-written example sentences, not from analysts' labels yet. "
            "Label stances on the Articles page, then train: each label is used from the next training on.",
            icon=":material/school:",
        )
    if kind == "topics":
        _topic_sections(active)
    metrics = active.get("metrics") or {}
    block_name, first = ("per_topic", "topic") if kind == "topics" else ("targets", "target")
    block = metrics.get(block_name) or metrics.get("per_class") or {}
    if kind == "stance" and block:
        st.caption("Per target: how many labels it has and which model judges it (bootstrap: a rough guess until labelled)")
        table = _per_row_table(block, first)
        st.dataframe(table, hide_index=True, placeholder="—", width="content")
        ui.download(table, label=f"Download {kind} metrics (CSV)", file_name=f"{kind}-metrics.csv", key=f"dl_metrics_{kind}", title=f"{KIND_TITLES[kind]} {active.get('version')} metrics")
    elif kind == "stance" and status.get("targets"):
        targets = _per_row_table(status["targets"], "target")
        st.caption("Targets (bootstrap: no labels yet, so the stance is a rough guess)")
        st.dataframe(targets, hide_index=True, placeholder="—", width="content")
        ui.download(targets, label="Download targets (CSV)", file_name="stance-targets.csv", key="dl_targets_status", title="Stance targets")
    with st.expander("What it was trained on, and earlier versions"):
        facts = _facts_table(active.get("training") or {})
        st.dataframe(facts, hide_index=True, width="stretch")
        if block and kind == "topics":
            st.caption("Per topic: the training data and the threshold (a score at or above it makes the tag). "
                       "Labels behind threshold: the analysts' labels it was moved by, from the bootstrap's threshold toward "
                       "the threshold from labels, the further the more labels of both kinds (0: the bootstrap's own)")
            table = _per_row_table(block, first)
            st.dataframe(table, hide_index=True, placeholder="—", width="stretch")
            ui.download(table, label=f"Download {kind} metrics (CSV)", file_name=f"{kind}-metrics.csv", key=f"dl_metrics_{kind}", title=f"{KIND_TITLES[kind]} {active.get('version')} metrics")
        history = pd.DataFrame(
            [
                {"version": h["version"], "trained (UTC)": h.get("created_at"), "active": "yes" if h["active"] else "", "analyst labels": h.get("analyst_labels", 0), "bootstrap": "yes" if h.get("bootstrap") else ""}
                for h in info.get("history") or []
            ],
            columns=["version", "trained (UTC)", "active", "analyst labels", "bootstrap"],
        )
        if not history.empty:
            st.caption("Versions, newest first")
            st.dataframe(history, hide_index=True, width="stretch")
            ui.download(history, label="Download versions (CSV)", file_name=f"{kind}-versions.csv", key=f"dl_history_{kind}", title=f"{KIND_TITLES[kind]} versions")

st.subheader("Labels from analysts")
if not labels:
    st.caption("No labels yet. On the Review page, answer About it / Not about it for a topic's doubtful articles, or on the Articles page correct an article's topic or stance: each becomes a training label.")
else:
    rows = []
    for kind, block in labels.items():
        for name, n in (block.get("by_label") or {}).items():
            rows.append({"kind": kind, "label": name, "positive": n.get("positive", 0), "negative": n.get("negative", 0)})
    label_table = pd.DataFrame(rows, columns=["kind", "label", "positive", "negative"])
    st.caption(" · ".join(f"{k}: {v.get('total', 0):,} labels, {v.get('waiting', 0):,} waiting for the next training" for k, v in labels.items()))
    st.dataframe(label_table, hide_index=True, width="content")
    ui.download(label_table, label="Download label counts (CSV)", file_name="label-counts.csv", key="dl_labels", title="Analyst label counts")

# --- train and re-tag ----------------------------------------------------------------------------

st.subheader("Train and re-tag")
st.caption("Training uses the taxonomy's seed terms plus every analyst label; the new model becomes active at once. Re-tagging applies it to the whole archive.")
b1, b2, b3 = st.columns(3)
train_kind = None
if b1.button("Train topic model", key="train_topics", icon=":material/model_training:", width="stretch"):
    train_kind = "topics"
if b2.button("Train stance model", key="train_stance", icon=":material/model_training:", width="stretch"):
    train_kind = "stance"
if train_kind:
    with st.status(f"Training the {train_kind} model…", expanded=True) as box:
        try:
            result = classify.train(db, train_kind, analyst=ui.analyst())
            box.update(label=f"Trained {result.get('version')}", state="complete")
            st.session_state["models_notice"] = f"Trained and activated {result.get('version')}. Re-tag the archive to apply it to stored articles."
            st.cache_data.clear()
            st.rerun()
        except MonitorError as e:
            box.update(label="Training failed", state="error")
            ui.show_error(e)
if b3.button("Re-tag the archive", key="retag", icon=":material/sell:", width="stretch"):
    bar = st.progress(0.0, text="Re-tagging…")

    def _progress(done: int, total: int) -> None:
        bar.progress(done / total if total else 1.0, text=f"Re-tagged {done:,} of {total:,} articles")

    try:
        n = classify.retag_all(db, progress=_progress)
        bar.progress(1.0, text=f"Re-tagged {n:,} articles")
        st.cache_data.clear()  # counts and charts change with the new tags
        version = (classify.model_status(db)["models"]["topics"].get("active") or {}).get("version")
        last = classify.retags(db, version)[:1] if version else []
        st.session_state["models_notice"] = (
            f"Re-tagged {n:,} articles: {last[0].added:,} topic tags added, {last[0].removed:,} removed (per topic under Topic model)."
            if last else f"Re-tagged {n:,} articles."
        )
        st.rerun()
    except MonitorError as e:
        ui.show_error(e)

# --- taxonomy ------------------------------------------------------------------------------------

with st.expander("Topics and stance targets", icon=":material/category:"):
    taxonomy = classify.load_taxonomy(db)
    topics = pd.DataFrame(
        [{"topic": t.name, "description": t.description, "seed terms": ", ".join(t.terms[:12]) + (" …" if len(t.terms) > 12 else "")} for t in taxonomy.topics]
    )
    st.dataframe(topics, hide_index=True, width="stretch")
    ui.download(topics, label="Download topics (CSV)", file_name="topics.csv", key="dl_taxonomy_topics", title="Taxonomy topics")
    targets = pd.DataFrame([{"target": t.name, "aliases": ", ".join(t.aliases)} for t in taxonomy.targets])
    st.dataframe(targets, hide_index=True, width="stretch")
    ui.download(targets, label="Download targets (CSV)", file_name="targets.csv", key="dl_taxonomy_targets", title="Stance targets and aliases")
    left, right = st.columns(2)
    with left.form("add_topic"):
        st.markdown("**Add a topic**")
        name = st.text_input("Name (a-z, 0-9, _)", key="topic_name", placeholder="cyber_fraud")
        description = st.text_input("Description", key="topic_description")
        terms = st.text_area("Seed terms (one a line, any language)", key="topic_terms", height=90)
        if st.form_submit_button("Add topic"):
            try:
                classify.add_topic(db, name, description, terms.splitlines(), added_by=ui.analyst())
                st.success(f"Added {name.strip().lower()}: train the topic model to learn it.")
            except MonitorError as e:
                ui.show_error(e)
    with right.form("add_target"):
        st.markdown("**Add a stance target**")
        target = st.text_input("Target", key="target_name", placeholder="Europol")
        aliases = st.text_area("Aliases (one a line)", key="target_aliases", height=90, placeholder="Europol\nЕвропол")
        if st.form_submit_button("Add target"):
            try:
                classify.add_target(db, target, aliases.splitlines(), added_by=ui.analyst())
                st.success(f"Added {target.strip()}: it gets a bootstrap stance model until labelled.")
            except MonitorError as e:
                ui.show_error(e)
