"""Chat automod: its levels and their thresholds, the spam heuristics (shouting, repetition) and the
toxicity scorer (the shipped lexicon, or one plugged in by CHAT_TOXICITY_SCORER)."""
from __future__ import annotations

import functools
import importlib
import logging
import math
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, cast

from .terms import WORD_START, normalise, term_regex

log = logging.getLogger("app.chat")

AUTOMOD_LEVELS = ("off", "low", "high")
# What the sender is told about a held message: in the verdict and in the send's acknowledgement.
HELD_REASON = "Your message is waiting for a moderator to review it."


# --- levels and spam heuristics ------------------------------------------------------------------

@dataclass(frozen=True)
class _Thresholds:
    toxicity: float
    caps_min_letters: int
    caps_ratio: float
    char_run: int
    repeats: int


_THRESHOLDS = {
    "low": _Thresholds(toxicity=0.8, caps_min_letters=30, caps_ratio=0.9, char_run=20, repeats=8),
    "high": _Thresholds(toxicity=0.5, caps_min_letters=12, caps_ratio=0.7, char_run=10, repeats=5),
}
_CHAR_RUN = {level: re.compile(r"(\S)\1{%d,}" % (t.char_run - 1)) for level, t in _THRESHOLDS.items()}  # noqa: UP031 - {} are the regex's
_MAX_PHRASE_WORDS = 5


def is_shouting(text: str, min_letters: int, ratio: float) -> bool:
    upper = sum(map(str.isupper, text))
    if upper < min_letters * ratio:
        return False
    letters = upper + sum(map(str.islower, text))
    return letters >= min_letters and upper >= ratio * letters


def _longest_phrase_run(words: list[str]) -> int:
    """How many times in a row the most repeated word or short phrase occurs."""
    best = 1 if words else 0
    count = len(words)
    for size in range(1, min(_MAX_PHRASE_WORDS, count // 2) + 1):
        for start in range(size):
            run = 1
            for i in range(start + size, count - size + 1, size):
                if words[i:i + size] == words[i - size:i]:
                    run += 1
                    best = max(best, run)
                else:
                    run = 1
    return best


def _glued_repeats(word: str) -> int:
    """"spamspamspam" is "spam" three times; periods under 3 letters ("hahaha") do not count."""
    if len(word) < 9:
        return 1
    period = (word + word).find(word, 1)
    if period < 3 or len(word) % period:
        return 1
    return len(word) // period


def repeats(text: str) -> int:
    """The largest number of times one word or phrase is repeated in a row."""
    words = [w.strip(string.punctuation) for w in normalise(text).split()]
    words = [w for w in words if w]
    glued = max((_glued_repeats(w) for w in words), default=0)
    return max(_longest_phrase_run(words), glued)


# --- toxicity: the lexicon scorer and a pluggable one --------------------------------------------

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


def _score(scorer: Callable[[str], float], text: str) -> float:
    try:
        score = float(scorer(text))
    except Exception:  # a plug-in scorer must not stop chat: no hint is better than no chat
        log.exception("chat toxicity scorer failed; message not scored")
        return 0.0
    if math.isnan(score):
        return 0.0
    return min(1.0, max(0.0, score))


# --- what automod flags --------------------------------------------------------------------------

def automod_flags(text: str, level: str, scorer: Callable[[str], float] | None = None) -> tuple[str, ...]:
    """Why automod would hold this message at this level (empty: it would not)."""
    limits = _THRESHOLDS.get(level)
    if limits is None:
        return ()
    flags = []
    if is_shouting(text, limits.caps_min_letters, limits.caps_ratio):
        flags.append("caps")
    if _CHAR_RUN[level].search(text) or repeats(text) >= limits.repeats:
        flags.append("repetition")
    if scorer is None:
        scorer = lexicon_score
    score = _score(scorer, text)
    if score >= limits.toxicity:
        flags.append(f"toxicity:{score:.2f}")
    return tuple(flags)
