"""Ranked search over channels, people and categories, on PostgreSQL or SQLite.

The database finds and scores candidates with its own full-text machinery (PostgreSQL:
tsvector with prefix tsquery plus pg_trgm similarity; SQLite: FTS5 with the trigram
tokenizer and bm25); then one ranking shared by both puts exact names above prefixes above
substrings above near-misses, and live channels above offline ones at equal relevance.

Typo tolerance: pg_trgm's similarity on PostgreSQL. On SQLite the query's trigrams are
OR-ed in FTS5 (bm25 favours rows sharing more of them) and a pg_trgm-like word similarity
computed here keeps only close matches; queries under three characters use prefix LIKE,
since trigrams need three.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Text, cast, func, literal, literal_column, or_, select, text
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.expression import ColumnClause

from ..extensions import db
from ..mature.gate import is_labelled
from ..models import Category, Channel, Profile, User

MAX_QUERY = 100
CANDIDATES = 100
MAX_TRIGRAMS = 48
# Like pg_trgm's word_similarity_threshold (0.6) but a little looser for short words.
TYPO_THRESHOLD = 0.45

EXACT, PREFIX, WORD_PREFIX, SUBSTRING, TYPO = 5, 4, 3, 2, 1

_WORD = re.compile(r"\w+", re.UNICODE)


def normalise(q: str | None) -> str:
    return " ".join((q or "").lower().split())[:MAX_QUERY]


@dataclass
class Results:
    q: str = ""
    channels: list[Channel] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    categories: list[Category] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.channels or self.users or self.categories)


def is_search_structure(name: str | None, type_: str) -> bool:
    """True for the FTS tables and search indexes the models don't declare (for `flask db check`)."""
    if not name:
        return False
    if type_ == "table":
        return name.startswith("fts_")
    if type_ == "index":
        return name.startswith("ix_search_")
    return False


def search(q: str | None, limit: int = 20, *, hide_labelled: bool = False) -> Results:
    """Channels, people and categories matching `q`, best first, at most `limit` of each;
    `hide_labelled` leaves out mature and labelled channels (the viewer's filter, app.mature)."""
    q = normalise(q)
    if not q or not _WORD.search(q):
        return Results(q=q)
    find = _postgresql if db.engine.dialect.name == "postgresql" else _sqlite
    channel_ids, user_ids, category_ids = find(q)

    channels = db.session.scalars(
        select(Channel).where(Channel.id.in_(list(channel_ids)))
        .options(selectinload(Channel.owner).selectinload(User.profile), selectinload(Channel.category))
    ).all() if channel_ids else []
    if hide_labelled:
        channels = [channel for channel in channels if not is_labelled(channel)]
    users = db.session.scalars(
        select(User).where(User.id.in_(list(user_ids))).options(selectinload(User.profile))
    ).all() if user_ids else []
    categories = db.session.scalars(select(Category).where(Category.id.in_(list(category_ids)))).all() \
        if category_ids else []

    def ranked(rows, names, db_scores, live=lambda row: False):
        scored = []
        for row in rows:
            tier, closeness = relevance(q, names(row))
            if tier == TYPO and closeness < TYPO_THRESHOLD:
                continue
            scored.append(((tier, live(row), closeness, db_scores.get(row.id, 0.0), -row.id), row))
        scored.sort(key=lambda pair: pair[0], reverse=True)
        return [row for _, row in scored[:limit]]

    return Results(
        q=q,
        channels=ranked(channels, lambda c: [c.slug, c.title, *(c.tags or [])], channel_ids,
                        live=lambda c: bool(c.is_live)),
        users=ranked(users, lambda u: [u.username, u.profile.display_name if u.profile else ""], user_ids),
        categories=ranked(categories, lambda c: [c.name, c.slug], category_ids),
    )


def relevance(q: str, names: list[str | None]) -> tuple[int, float]:
    """(tier, closeness): how a row's names match the query, best of its names."""
    best = (0, 0.0)
    for name in names:
        if not name:
            continue
        name = " ".join(name.lower().split())
        if name == q:
            tier = EXACT
        elif name.startswith(q):
            tier = PREFIX
        elif all(any(word.startswith(part) for word in _WORD.findall(name)) for part in _WORD.findall(q)):
            tier = WORD_PREFIX
        elif q in name:
            tier = SUBSTRING
        else:
            tier = TYPO
        best = max(best, (tier, word_similarity(q, name)))
    return best


def _trigrams(word: str) -> set[str]:
    padded = f"  {word} "
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


def word_similarity(q: str, name: str) -> float:
    """About pg_trgm's word_similarity: how well the query matches the closest word(s) of `name`."""
    query = set().union(*(_trigrams(w) for w in _WORD.findall(q))) if _WORD.search(q) else set()
    if not query:
        return 0.0
    best = 0.0
    for word in _WORD.findall(name):
        grams = _trigrams(word)
        best = max(best, len(query & grams) / len(query | grams))
    whole = set().union(*(_trigrams(w) for w in _WORD.findall(name))) if _WORD.search(name) else set()
    if whole:
        best = max(best, len(query & whole) / len(query))
    return min(best, 1.0)


# -- PostgreSQL ------------------------------------------------------------------------------

def _tsquery(q: str) -> str | None:
    """A to_tsquery string: every word ANDed, the last one as a prefix. Words are \\w+ only."""
    words = _WORD.findall(q)[:16]
    if not words:
        return None
    quoted = [f"'{w}'" for w in words]
    quoted[-1] += ":*"
    return " & ".join(quoted)


def _postgresql(q: str) -> tuple[dict, dict, dict]:
    like = _like_pattern(q)
    prefix = _like_pattern(q, contains=False)
    tsq = func.to_tsquery(literal_column("'simple'::regconfig"), _tsquery(q))
    query = literal(q)

    # These expressions are written as the migration indexes them (no bound parameters inside),
    # so the GIN indexes serve them.
    channel_text: ColumnClause[Any] = literal_column(
        "to_tsvector('simple'::regconfig, channels.slug || ' ' || channels.title)")
    title = func.lower(Channel.title)
    channel_score = (func.ts_rank(channel_text, tsq)
                     + func.greatest(func.similarity(Channel.slug, q), func.word_similarity(query, title)))
    channels = db.session.execute(
        select(Channel.id, channel_score)
        .join(User, Channel.owner_id == User.id)
        .where(User.disabled.is_(False),
               or_(channel_text.op("@@")(tsq), Channel.slug.op("%")(q), query.op("<%")(title),
                   title.like(like, escape="\\"), cast(Channel.tags, Text).ilike(like, escape="\\")))
        .order_by(channel_score.desc()).limit(CANDIDATES)
    ).tuples().all()

    display: ColumnClause[Any] = literal_column("lower(coalesce(profiles.display_name, ''))")
    user_score = func.greatest(func.similarity(User.username_lower, q), func.word_similarity(query, display))
    users = db.session.execute(
        select(User.id, user_score)
        .outerjoin(Profile, Profile.user_id == User.id)
        .where(User.disabled.is_(False),
               or_(User.username_lower.like(prefix, escape="\\"), User.username_lower.op("%")(q),
                   query.op("<%")(display), display.like(like, escape="\\")))
        .order_by(user_score.desc()).limit(CANDIDATES)
    ).tuples().all()

    name = func.lower(Category.name)
    category_score = func.word_similarity(query, name)
    categories = db.session.execute(
        select(Category.id, category_score)
        .where(or_(query.op("<%")(name), name.like(like, escape="\\"), Category.slug.like(prefix, escape="\\")))
        .order_by(category_score.desc()).limit(CANDIDATES)
    ).tuples().all()
    return dict(channels), dict(users), dict(categories)


# -- SQLite ----------------------------------------------------------------------------------

def _fts_match(q: str) -> str | None:
    """An FTS5 query ORing the query's trigrams, each a quoted string: no operator gets through."""
    grams: list[str] = []
    for word in _WORD.findall(q):
        for i in range(len(word) - 2):
            gram = word[i:i + 3]
            if gram not in grams:
                grams.append(gram)
    if not grams:
        return None
    return " OR ".join('"' + g.replace('"', '""') + '"' for g in grams[:MAX_TRIGRAMS])


def _sqlite(q: str) -> tuple[dict, dict, dict]:
    match = _fts_match(q)
    if match is None:  # every word shorter than a trigram: prefix search on the base tables
        return _sqlite_short(q)
    # bm25 is lower for better matches; negate it so bigger is better, as on PostgreSQL.
    channels = db.session.execute(text(
        "SELECT c.id, -bm25(fts_channels, 4.0, 2.0, 1.0) FROM fts_channels "
        "JOIN channels c ON c.id = fts_channels.rowid JOIN users u ON u.id = c.owner_id "
        "WHERE fts_channels MATCH :match AND u.disabled = 0 "
        "ORDER BY bm25(fts_channels, 4.0, 2.0, 1.0) LIMIT :limit"
    ), {"match": match, "limit": CANDIDATES}).tuples().all()
    users = db.session.execute(text(
        "SELECT u.id, -bm25(fts_users, 2.0, 1.0) FROM fts_users "
        "JOIN users u ON u.id = fts_users.rowid "
        "WHERE fts_users MATCH :match AND u.disabled = 0 "
        "ORDER BY bm25(fts_users, 2.0, 1.0) LIMIT :limit"
    ), {"match": match, "limit": CANDIDATES}).tuples().all()
    categories = db.session.execute(text(
        "SELECT rowid, -bm25(fts_categories) FROM fts_categories "
        "WHERE fts_categories MATCH :match ORDER BY bm25(fts_categories) LIMIT :limit"
    ), {"match": match, "limit": CANDIDATES}).tuples().all()
    return dict(channels), dict(users), dict(categories)


def _sqlite_short(q: str) -> tuple[dict, dict, dict]:
    prefix = _like_pattern(q, contains=False)
    channels = db.session.scalars(
        select(Channel.id).join(User, Channel.owner_id == User.id)
        .where(User.disabled.is_(False),
               or_(Channel.slug.like(prefix, escape="\\"), Channel.title.like(prefix, escape="\\")))
        .limit(CANDIDATES))
    users = db.session.scalars(
        select(User.id).outerjoin(Profile, Profile.user_id == User.id)
        .where(User.disabled.is_(False),
               or_(User.username_lower.like(prefix, escape="\\"), Profile.display_name.like(prefix, escape="\\")))
        .limit(CANDIDATES))
    categories = db.session.scalars(
        select(Category.id).where(Category.name.like(prefix, escape="\\")).limit(CANDIDATES))
    return ({i: 0.0 for i in channels}, {i: 0.0 for i in users}, {i: 0.0 for i in categories})


def _like_pattern(q: str, contains: bool = True) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%" if contains else f"{escaped}%"
