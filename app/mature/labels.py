"""The content labels a creator can put on a channel or a VOD (Twitch's content classification
set): the one list every form, page, filter and the API read. Keys are stored and sent by the
API; names are what people read."""
from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple


class ContentLabel(NamedTuple):
    key: str
    name: str


CONTENT_LABELS: tuple[ContentLabel, ...] = (
    ContentLabel("drugs", "Drugs, Intoxication, or Excessive Tobacco Use"),
    ContentLabel("gambling", "Gambling"),
    ContentLabel("mature_game", "Mature-rated Games"),
    ContentLabel("profanity", "Profanity or Vulgarity"),
    ContentLabel("sexual_themes", "Sexual Themes"),
    ContentLabel("violence", "Significant Violence"),
)
LABEL_KEYS = tuple(label.key for label in CONTENT_LABELS)
LABEL_NAMES = {label.key: label.name for label in CONTENT_LABELS}


class UnknownLabel(ValueError):
    """A label key that is not in CONTENT_LABELS."""


def clean_labels(keys: Iterable[str] | None) -> list[str]:
    """`keys` as stored: known keys only, each once, in the list's order. An unknown key is
    refused (a form offers only these; anything else is a forged or stale request)."""
    wanted = set(keys or ())
    unknown = wanted - set(LABEL_KEYS)
    if unknown:
        raise UnknownLabel(f"Unknown content label: {sorted(unknown)[0][:40]}")
    return [key for key in LABEL_KEYS if key in wanted]


def label_names(keys: Iterable[str] | None) -> list[str]:
    """Readable names of the stored keys, in the list's order (keys no longer known are left out)."""
    stored = set(keys or ())
    return [label.name for label in CONTENT_LABELS if label.key in stored]
