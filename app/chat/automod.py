"""Toxicity hints for chat automod: a local lexicon scorer and the loader for a pluggable one."""
from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, cast

from .filters import WORD_START, normalise, term_regex

LEXICON_PATH = Path(__file__).with_name("lexicon.txt")
ADDRESSED_BOOST = 1.5
BOOST_CEILING = 0.95

# Words that aim a message at someone: an insult aimed at a person weighs more.
_ADDRESS_TERMS = ("you", "u", "ur", "ya", "youre", "your*", "thou")
_MENTION = re.compile(r"@\w")


class Lexicon(NamedTuple):
    pattern: re.Pattern | None   # one named group per term: t0, t1...
    weights: tuple[float, ...]
    addressed: re.Pattern


def read_lexicon(path: Path = LEXICON_PATH) -> list[tuple[str, float]]:
    """(term, weight) pairs from a lexicon file: "weight<TAB>term" lines, # comments."""
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        weight, _, term = line.partition("\t")
        try:
            value = float(weight)
        except ValueError:
            raise ValueError(f"{path.name} line {number}: expected 'weight<TAB>term', got {line!r}") from None
        if not 0.0 <= value <= 1.0 or not term.strip():
            raise ValueError(f"{path.name} line {number}: weight must be 0-1 and a term must follow")
        entries.append((term.strip(), value))
    return entries


def compile_lexicon(entries: list[tuple[str, float]]) -> Lexicon:
    bounded: list[str] = []
    unbounded: list[str] = []
    weights: list[float] = []
    for term, weight in entries:
        source = term_regex(term)
        if source is None:
            continue
        # Whole-word terms share one look-behind, so mid-word positions are rejected at once.
        if source.startswith(WORD_START):
            bounded.append(f"(?P<t{len(weights)}>{source[len(WORD_START):]})")
        else:
            unbounded.append(f"(?P<t{len(weights)}>{source})")
        weights.append(weight)
    alternatives = unbounded + ([WORD_START + "(?:" + "|".join(bounded) + ")"] if bounded else [])
    addressed = re.compile("|".join(filter(None, map(term_regex, _ADDRESS_TERMS))))
    return Lexicon(re.compile("|".join(alternatives)) if alternatives else None, tuple(weights), addressed)


@functools.cache
def _lexicon() -> Lexicon:
    return compile_lexicon(read_lexicon())


def score_with(lexicon: Lexicon, text: str) -> float:
    if lexicon.pattern is None:
        return 0.0
    folded = normalise(text)
    hits = set()
    found = lexicon.pattern.search(folded)
    while found:  # overlapping, so "go die in a fire" finds both "go die" and "die in a fire"
        hits.add(int(cast(str, found.lastgroup)[1:]))  # every alternative is a named group
        found = lexicon.pattern.search(folded, found.start() + 1)
    if not hits:
        return 0.0
    aimed = bool(_MENTION.search(text) or lexicon.addressed.search(folded))
    clean = 1.0
    for index in hits:
        weight = lexicon.weights[index]
        if aimed and weight < BOOST_CEILING:
            weight = min(BOOST_CEILING, weight * ADDRESSED_BOOST)
        clean *= 1.0 - weight
    return round(1.0 - clean, 4)


def lexicon_score(text: str) -> float:
    """How likely the message is to be abusive, 0 to 1, from the shipped word list."""
    return score_with(_lexicon(), text)


@functools.lru_cache(maxsize=8)
def load_scorer(dotted: str | None) -> Callable[[str], float]:
    """The scorer named "package.module:function" (a callable taking the text, returning 0-1);
    lexicon_score when none is named. Raises ValueError saying what is wrong with the name."""
    if dotted is None or not str(dotted).strip():
        return lexicon_score
    dotted = str(dotted).strip()
    module_name, colon, attribute = dotted.partition(":")
    if not colon or not module_name or not attribute:
        raise ValueError(f"Chat scorer {dotted!r} should look like 'package.module:function'.")
    try:
        target = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"Chat scorer {dotted!r}: cannot import {module_name!r} ({error}).") from error
    for name in attribute.split("."):
        try:
            target = getattr(target, name)
        except AttributeError:
            raise ValueError(f"Chat scorer {dotted!r}: {module_name!r} has no {attribute!r}.") from None
    if not callable(target):
        raise ValueError(f"Chat scorer {dotted!r} is not callable.")
    return target
