"""Topic and stance classifiers. (Being built: issue 4.)"""

from __future__ import annotations


def tag_articles(db, article_ids: list[int]) -> None:
    """Tag freshly stored articles. Never raises: failures mark the article untagged with a reason."""
