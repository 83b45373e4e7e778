"""Emoji in chat text: :shortcodes: and whether a message is emote-only."""
from __future__ import annotations

import functools
import re

import emoji

_SHORTCODE_START = re.compile(r":(?=([^:\s]{1,80}):)")


@functools.cache
def _shortcodes() -> dict[str, str]:
    """":name:" -> emoji for English names and aliases, built once (emoji's own lookup scans)."""
    fully_qualified = emoji.STATUS["fully_qualified"]
    table: dict[str, str] = {}
    for char, data in emoji.EMOJI_DATA.items():
        if data["status"] > fully_qualified:
            continue
        table.setdefault(data["en"], char)
    for char, data in emoji.EMOJI_DATA.items():
        if data["status"] > fully_qualified:
            continue
        for alias in data.get("alias", ()):
            table[alias] = char
    return table


def find_shortcodes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, emoji) for each :shortcode: that names an emoji, left to right."""
    if ":" not in text:
        return []
    table = _shortcodes()
    found: list[tuple[int, int, str]] = []
    last_end = 0
    for candidate in _SHORTCODE_START.finditer(text):
        start = candidate.start()
        if start < last_end:
            continue
        end = start + len(candidate.group(1)) + 2
        char = table.get(text[start:end])
        if char:
            found.append((start, end, char))
            last_end = end
    return found


def is_emote_only(text: str) -> bool:
    """Only emoji (characters or :shortcodes:) and whitespace, and at least one of them."""
    pieces, last = [], 0
    for start, end, _char in find_shortcodes(text):
        pieces.append(text[last:start])
        last = end
    pieces.append(text[last:])
    rest = "".join("".join(pieces).split())
    if not rest:
        return last > 0
    return emoji.purely_emoji(rest)
