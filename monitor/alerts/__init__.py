"""Keyword and spike alerts. (Being built: issue 6.)"""

from __future__ import annotations


def evaluate_new_articles(db, article_ids: list[int]) -> None:
    """Match freshly stored (and tagged) articles against every alert. Never raises into ingest."""
