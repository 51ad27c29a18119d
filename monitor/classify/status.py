"""What the Models page shows: active versions, their metrics, label counts, bootstrap flags."""

from __future__ import annotations

from monitor.classify.labels import label_counts
from monitor.classify.modelstore import list_models
from monitor.classify.tagging import count_by_status
from monitor.classify.taxonomy import load_taxonomy


def model_status(db) -> dict:
    models = list_models(db)
    out: dict = {"labels": label_counts(db), "articles": count_by_status(db), "models": {}}
    for kind in ("topics", "stance"):
        mine = [m for m in models if m["kind"] == kind]
        active = next((m for m in mine if m["active"]), None)
        out["models"][kind] = {
            "active": None if active is None else {
                "version": active["version"],
                "created_at": active["created_at"].isoformat(sep=" ", timespec="seconds") if active["created_at"] else None,
                "bootstrap": bool((active["training"] or {}).get("bootstrap")),
                "metrics": active["metrics"],
                "training": active["training"],
            },
            "history": [
                {
                    "version": m["version"],
                    "active": bool(m["active"]),
                    "created_at": m["created_at"].isoformat(sep=" ", timespec="seconds") if m["created_at"] else None,
                    "bootstrap": bool((m["training"] or {}).get("bootstrap")),
                    "analyst_labels": int((m["training"] or {}).get("analyst_labels") or 0),
                }
                for m in mine[:20]
            ],
        }
    taxonomy = load_taxonomy(db)
    stance = out["models"]["stance"]["active"]
    targets = (stance or {}).get("metrics", {}).get("targets", {}) if stance else {}
    out["targets"] = {
        t: {"bootstrap": targets.get(t, {}).get("bootstrap", True), "mode": targets.get(t, {}).get("mode", "bootstrap")}
        for t in taxonomy.target_names
    }
    return out
