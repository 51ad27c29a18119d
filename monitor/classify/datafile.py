"""Labelled data files for `train --data` and `evaluate --data`: CSV or TSV with a header row.

The delimiter is a tab when the header line has one (TSV rows are read without quote
processing, as SemEval's files need), else a comma. UTF-8 (with or without BOM) is tried
first, then Windows-1252. Multi-label topic cells separate labels with ';'.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path

from monitor.classify.kinds import STANCES
from monitor.errors import InputError

TEXT_DEFAULTS = (("text",), ("tweet",), ("content",), ("body",), ("title", "summary"), ("title", "description"), ("title",))
LABEL_DEFAULTS = ("label", "labels", "topics", "topic", "stance", "category", "class")
TARGET_DEFAULTS = ("target",)


@dataclass(frozen=True)
class Row:
    text: str
    labels: tuple[str, ...]
    target: str = ""


def join_text(cells: list[str]) -> str:
    """Several text columns as one text. With two or more, the first is read as the title and
    counts twice, as an article's title does (see features.article_text)."""
    cells = [c.strip() for c in cells]
    if len(cells) >= 2 and cells[0]:
        cells = [cells[0], *cells]
    return ". ".join(c for c in cells if c)


def _decode(raw: bytes, path: Path) -> str:
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")


def read_rows(
    path: str | Path,
    kind: str,
    text_columns: list[str] | None = None,
    label_column: str | None = None,
    target_column: str | None = None,
) -> list[Row]:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from None
    text = _decode(raw, path)
    first = text.split("\n", 1)[0]
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    if "\t" in first:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    else:
        reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{path} is empty: a header row is needed") from None
    except csv.Error as e:
        raise InputError(f"{path} is not a readable CSV/TSV file: {e}") from None
    names = [h.strip() for h in header]
    lower = {n.lower(): i for i, n in enumerate(names)}

    def col(name: str) -> int:
        i = lower.get(name.strip().lower())
        if i is None:
            raise InputError(f"{path} has no column {name!r} (columns: {', '.join(names)})")
        return i

    if text_columns:
        text_idx = [col(c) for c in text_columns]
    else:
        found = next(([lower[c] for c in combo] for combo in TEXT_DEFAULTS if all(c in lower for c in combo)), None)
        if found is None:
            raise InputError(f"{path}: name the text column(s) with --text-column (columns: {', '.join(names)})")
        text_idx = found
    if label_column:
        label_idx = col(label_column)
    else:
        found_label = next((lower[c] for c in LABEL_DEFAULTS if c in lower), None)
        if found_label is None:
            raise InputError(f"{path}: name the label column with --label-column (columns: {', '.join(names)})")
        label_idx = found_label
    target_idx = None
    if kind == "stance":
        if target_column:
            target_idx = col(target_column)
        else:
            target_idx = next((lower[c] for c in TARGET_DEFAULTS if c in lower), None)
    rows: list[Row] = []
    try:
        for n, rec in enumerate(reader, start=2):
            if not rec or all(not c.strip() for c in rec):
                continue
            if max(text_idx + [label_idx]) >= len(rec):
                raise InputError(f"{path}, row {n}: fewer cells than the header names")
            body = join_text([rec[i] for i in text_idx])
            cell = rec[label_idx].strip()
            labels: tuple[str, ...]
            if kind == "stance":
                labels = (cell.upper(),) if cell else ()
                if labels and labels[0] not in STANCES:
                    raise InputError(f"{path}, row {n}: stance must be FAVOR, AGAINST or NONE, not {cell!r}")
            else:
                labels = tuple(dict.fromkeys(p.strip() for p in cell.split(";") if p.strip()))
            target = rec[target_idx].strip() if target_idx is not None and target_idx < len(rec) else ""
            rows.append(Row(body, labels, target))
    except csv.Error as e:
        raise InputError(f"{path} is not a readable CSV/TSV file: {e}") from None
    if not rows:
        raise InputError(f"{path} has no data rows")
    return rows
