"""Blocked terms: how chat text is folded for matching, and the patterns a channel's terms become.

normalise() is also how automod's lexicon and the duplicate check read a message, so a disguise
that dodges one check dodges none of them.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

MAX_TERM_LENGTH = 100
BLOCKED_TERM_REASON = "Your message contains a word or phrase that is not allowed in this chat."


# --- normalising ---------------------------------------------------------------------------------

# Latin lookalikes from other scripts, so "ехаmple" typed with Cyrillic letters still matches.
_CONFUSABLES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "ɡ": "g", "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v",
    "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ѡ": "w", "ı": "i",
})
_DROPPED_CATEGORIES = frozenset({"Mn", "Me", "Cf", "Cc"})


def normalise(text: str) -> str:
    """Fold case, accents, compatibility forms (fullwidth, 𝐛𝐨𝐥𝐝) and lookalike letters; drop
    invisible characters. Leetspeak is left to the term patterns, since "1" may be an i or an l."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(ch for ch in decomposed if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    return kept.casefold().translate(_CONFUSABLES)


# --- blocked terms -------------------------------------------------------------------------------

# What each letter of a term may also be written as.
_LEET_CLASSES = {"a": "a4@", "b": "b8", "e": "e3", "i": "i1!|", "l": "l1|", "o": "o0", "s": "s5$", "t": "t7"}
# How a term typed in leetspeak is read: "b4d" is the term "bad".
_TERM_LEET = str.maketrans("013457@$!|8", "oieastasilb")
# "!" and "|" are letters inside a word ("sh!t") but punctuation at its edges ("wtf!").
_EDGE_PUNCTUATION = re.compile(r"(?<![\w@$!|])[!|]+|[!|]+(?![\w@$!|])")
# One separator between the letters of a term ("b.a.d", "b a d", "b_a_d"), never a leet symbol.
_SEPARATOR = r"(?:[^\w@$!|]|_)?"
# Between the words of a phrase: any run of non-alphanumerics, or none ("shutup").
_GAP = r"(?:[^\w@$!|]|_)*+"
WORD_START = r"(?<![^\W_])"  # not preceded by a letter or digit
_NOT_BEFORE_WORD = r"(?![^\W_])"


def _term_chars(term: str) -> str:
    """A term as its pattern sees it: normalised, leetspeak read as letters, gaps as spaces."""
    text = _EDGE_PUNCTUATION.sub(" ", normalise(term)).translate(_TERM_LEET)
    chars = []
    for ch in text:
        if ch == "*" or (ch.isalnum()):
            chars.append(ch)
        elif chars and chars[-1] != " ":
            chars.append(" ")
    collapsed = re.sub(r"\*+", "*", "".join(chars))
    return re.sub(r" ?\* ?", "*", collapsed).strip(" ")


def _letter_class(ch: str) -> str:
    letters = _LEET_CLASSES.get(ch)
    return f"[{re.escape(letters)}]" if letters else re.escape(ch)


def term_regex(term: str) -> str | None:
    """The regular expression (source) for one term, or None when it has nothing to match.

    A plain term matches whole words only; a leading or trailing * lets it start or end inside
    a word, and a * in the middle stands for any letters. Each letter may repeat ("baaad"),
    be written in leetspeak ("b4d") and be followed by one separator ("b.a.d").

    Every piece either consumes possessively or cannot overlap its neighbour, so the pattern
    never backtracks catastrophically, whatever a moderator types or a chatter sends.
    """
    chars = _term_chars(term)
    if not any(ch.isalnum() for ch in chars):
        return None
    core = chars.strip("*")
    # Runs of one letter ("ss" in "ass"): all but the last letter once each, the last repeating.
    pieces = [(match.group(1), len(match.group(0))) for match in re.finditer(r"(.)\1*", core)]
    # A match never starts inside a run of its first letter: the run is taken whole anyway.
    parts = [f"(?<!{_letter_class(core[0])})" if chars.startswith("*") else WORD_START]
    previous_letter = False
    for index, (ch, count) in enumerate(pieces):
        if ch == "*":
            # Any letters up to the next letter of the term (not backtracked into).
            following = pieces[index + 1][0] if index + 1 < len(pieces) else ""
            stop = _letter_class(following)
            parts.append(f"(?>(?:(?!{stop})[^\\W_])*)")
            previous_letter = False
        elif ch == " ":
            parts.append(_GAP)
            previous_letter = False
        else:
            letter = _letter_class(ch)
            for _ in range(count - 1):
                if previous_letter:
                    parts.append(_SEPARATOR)
                parts.append(letter)
                previous_letter = True
            if previous_letter:
                parts.append(_SEPARATOR)
            parts.append(letter + "++")
            previous_letter = True
    if not chars.endswith("*"):
        parts.append(_NOT_BEFORE_WORD)
    return "".join(parts)


@functools.lru_cache(maxsize=256)
def _compile_terms(terms: tuple[str, ...]) -> re.Pattern | None:
    bounded, unbounded = [], []
    for term in terms:
        source = term_regex(term)
        if source is None:
            continue
        if source.startswith(WORD_START):
            bounded.append(source[len(WORD_START):])
        else:
            unbounded.append(source)
    # Whole-word terms share one look-behind, so mid-word positions are rejected at once.
    alternatives = []
    if bounded:
        alternatives.append(WORD_START + "(?:" + "|".join(dict.fromkeys(bounded)) + ")")
    alternatives.extend(dict.fromkeys(unbounded))
    if not alternatives:
        return None
    return re.compile("|".join(alternatives))


def compile_terms(terms: Iterable[str]) -> re.Pattern | None:
    """One compiled pattern for a set of terms (cached by the tuple), searched on normalise(text);
    None when there is nothing to block."""
    return _compile_terms(tuple(terms))


def find_blocked_term(text: str, terms: Iterable[str]) -> str | None:
    """The stretch of the (normalised) text that a blocked term matched, or None."""
    pattern = compile_terms(terms)
    if pattern is None:
        return None
    found = pattern.search(normalise(text))
    return found.group(0) if found else None


def validate_term(term: str) -> str:
    """A blocked term as typed in a settings form, tidied (trimmed, lower case, single spaces,
    single *); raises ValueError with a reason a person can act on."""
    if not isinstance(term, str):
        raise ValueError("Enter a word or phrase to block.")
    tidy = " ".join(unicodedata.normalize("NFKC", term).split()).casefold()
    tidy = re.sub(r"\*+", "*", tidy)
    if not tidy:
        raise ValueError("Enter a word or phrase to block.")
    if len(tidy) > MAX_TERM_LENGTH:
        raise ValueError(f"Blocked terms can be at most {MAX_TERM_LENGTH} characters.")
    if not tidy.strip("* "):
        raise ValueError("A blocked term needs letters, not only wildcards (*).")
    chars = _term_chars(tidy)
    letters = sum(ch.isalnum() for ch in chars)
    if letters == 0:
        raise ValueError("A blocked term needs at least one letter or digit.")
    if letters < 2:
        raise ValueError("A blocked term needs at least two letters, or it would block far too much.")
    if "*" in chars and letters < 3:
        raise ValueError("A term with a wildcard (*) needs at least three letters, "
                         "or it would block far too much.")
    return tidy
