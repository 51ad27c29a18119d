"""The classifiers' vocabularies: which model a row is, and the stances a tag can carry.

Plain string enums, so the strings stored in `classifier_models.kind`, `tags.kind`,
`labels.kind` and `tags.label` stay what they were (no migration) while code names a member.
Importing this module costs nothing: filters and views use it without loading a model.
"""

from __future__ import annotations

from enum import StrEnum


class ModelKind(StrEnum):
    """A trained model's kind, and the kind of the tags and labels it makes and learns from.

    A topic model is stored as "topics" (it holds every topic) and writes tags of kind
    "topic" (one topic each): one member says both, so the two strings cannot drift apart."""

    TOPICS = "topics"
    STANCE = "stance"

    @property
    def tag_kind(self) -> str:
        """The `kind` of its rows in `tags` and `labels`."""
        return "topic" if self is ModelKind.TOPICS else "stance"

    @classmethod
    def of_tag(cls, tag_kind: str) -> ModelKind:
        """The model kind that writes tags (and learns labels) of this kind."""
        for kind in cls:
            if kind.tag_kind == tag_kind:
                return kind
        raise ValueError(f"no model writes tags of kind {tag_kind!r}")


class Stance(StrEnum):
    """SemEval-2016 Task 6 stance toward a target, in the order pages and filters list them."""

    FAVOR = "FAVOR"
    AGAINST = "AGAINST"
    NONE = "NONE"


STANCES: tuple[str, ...] = tuple(s.value for s in Stance)
MODEL_KINDS: tuple[str, ...] = tuple(k.value for k in ModelKind)
