"""`tag`, `train`, `evaluate`: the classifiers from the command line (thin over monitor.classify)."""

from __future__ import annotations

import json
import sys

from monitor.errors import InputError


def _data_options(p, required: bool) -> None:
    p.add_argument("--data", metavar="FILE", required=required, help="CSV or TSV file with a header row")
    p.add_argument("--text-column", metavar="C", action="append", dest="text_columns",
                   help="column(s) holding the text; repeat to join several (default: text, or title + summary)")
    p.add_argument("--label-column", metavar="C", help="column with the label (topics: several separated by ';')")
    p.add_argument("--target-column", metavar="C", help="stance: column naming the target (default: target)")


def register(sub) -> None:
    p = sub.add_parser("tag", help="(re)tag stored articles with the current models",
                       description="Tag articles that are untagged or failed; with --all, re-tag the whole archive.")
    p.add_argument("--all", action="store_true", help="re-tag every stored article")
    p.set_defaults(handler=run_tag)

    p = sub.add_parser("train", help="train the topic or stance model",
                       description="Without --data: from the taxonomy's seed terms plus every analyst label. "
                       "With --data: the file's rows are stored as labels and used from now on.")
    p.add_argument("kind", choices=("topics", "stance"))
    _data_options(p, required=False)
    p.set_defaults(handler=run_train)

    p = sub.add_parser("evaluate", help="score a model on a labelled file (JSON metrics on stdout)",
                       description="With --cv K: cross-validate fresh models on FILE (stratified K folds). "
                       "Without it: score the current model on FILE.")
    p.add_argument("kind", choices=("topics", "stance"))
    _data_options(p, required=True)
    p.add_argument("--cv", type=int, metavar="K", help="number of cross-validation folds (≥ 2)")
    p.set_defaults(handler=run_evaluate)


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        print(f"\rtagged {done:,} of {total:,}", end="", file=sys.stderr, flush=True)


def run_tag(args, db) -> int:
    from monitor import classify

    n = classify.retag_all(db, progress=_progress) if args.all else classify.tag_pending(db, progress=_progress)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    status = classify.model_status(db)
    failed = status["articles"].get("failed", 0)
    print(f"tagged {n:,} articles" + (f"; {failed:,} could not be tagged (see tag_error)" if failed else ""))
    version = (status["models"]["topics"].get("active") or {}).get("version")
    if args.all and version:
        last = classify.retags(db, version)[:1]
        changed = [t for t in last[0].topics if t.added or t.removed] if last else []
        if last:
            print(f"topic tags: {last[0].added:,} added, {last[0].removed:,} removed"
                  + (" (" + ", ".join(f"{t.topic} +{t.added:,} -{t.removed:,}" for t in changed) + ")" if changed else ""))
    return 0 if not failed else 1


def run_train(args, db) -> int:
    from monitor import classify

    result = classify.train(db, args.kind, data=args.data, text_columns=args.text_columns,
                            label_column=args.label_column, target_column=args.target_column)
    print(json.dumps(result, ensure_ascii=False, default=str))
    return 0


def run_evaluate(args, db) -> int:
    from monitor import classify

    if args.cv is not None and args.cv < 2:
        raise InputError("--cv needs at least 2 folds")
    result = classify.evaluate(db, args.kind, args.data, cv=args.cv, text_columns=args.text_columns,
                               label_column=args.label_column, target_column=args.target_column)
    print(json.dumps(result, ensure_ascii=False, default=str))
    return 0
