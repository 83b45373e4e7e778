"""Accounts and their public profiles: User, NameKey, Profile, TopFriend, DonationAddress."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ColumnElement,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from ..extensions import Model
from .types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from .channel import Channel
    from .login_session import LoginSession

SITE_ROLES = ("user", "admin")


class User(UserMixin, Model):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('user', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(25))
    # Usernames are unique regardless of case: "Alice" and "alice" are one name.
    username_lower: Mapped[str] = mapped_column(String(25), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="user", server_default="user")
    # The date of birth typed at signup is only checked, never kept (app.auth.age): for a member
    # who was under 18 then, the first day of the month after they turn 18; None for adults.
    adult_from: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # A suspension disables the account until then; a termination or an admin's disable has none.
    suspended_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the owner followed the verification link mailed to `email`; None until then, and again
    # after the address changes.
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the member last dismissed the notice of new legal page versions (app.legal); versions
    # published after this (or after signing up) are announced to them.
    legal_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When this adult passed the mature-content interstitial (app.mature.gate): remembered on the
    # account, so every browser they sign in on lets them through. Never set for a minor.
    mature_passed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The viewer's filter: channels with content labels or marked mature are left out of the
    # directory and search.
    hide_labelled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Erasure (app.auth.deletion): set when the member asked to delete the account; until then
    # the account is hidden (disabled) and signing in offers to cancel; after it the hourly
    # retention run purges everything personal and sets `erased_at`. The row stays, holding
    # the username (and its lookalike keys) so nobody else can take it.
    erase_after: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When a signed-in request of the member first carried Sec-GPC: 1 (Global Privacy Control),
    # recorded as their opt-out of the sale and sharing of personal data (app.privacy.gpc).
    gpc_opt_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    profile: Mapped[Profile] = relationship(
        back_populates="user", uselist=False, cascade="all, delete-orphan",
        foreign_keys="Profile.user_id",
    )
    channel: Mapped[Channel | None] = relationship(
        back_populates="owner", uselist=False, cascade="all, delete-orphan"
    )
    # SQLite enforces no ON DELETE CASCADE here (foreign keys are off), so the ORM deletes them.
    login_sessions: Mapped[list[LoginSession]] = relationship(cascade="all, delete-orphan")
    name_keys: Mapped[list[NameKey]] = relationship(cascade="all, delete-orphan")

    @validates("username")
    def _set_username_lower(self, key, value):
        self.username_lower = value.lower()
        return value

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @hybrid_property
    def erasure_pending(self) -> bool:
        """Asked to be deleted and still within the grace: signing in offers to cancel. In a
        query too (`User.erasure_pending`): such accounts leave every public page at once."""
        return self.erase_after is not None and self.erased_at is None

    @erasure_pending.inplace.expression
    @classmethod
    def _erasure_pending_expression(cls) -> ColumnElement[bool]:
        return and_(cls.erase_after.is_not(None), cls.erased_at.is_(None))

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def is_active(self) -> bool:  # Flask-Login refuses disabled accounts
        return not self.disabled

    # The token of the login this request belongs to (a LoginSession's, unhashed), set when the
    # user is logged in or loaded from a cookie; never stored on this row.
    if TYPE_CHECKING:
        session_token: str | None
    else:
        session_token = None  # a plain attribute: the mapper ignores it

    def get_id(self) -> str:
        # Flask-Login's "alternative token": the session and remember cookies carry the login's
        # token, so ending the LoginSession ends both, wherever they were copied to.
        if not self.session_token:
            raise RuntimeError("log in through app.auth.sessions.begin, which gives the login a token")
        return f"{self.id}:{self.session_token}"

    # UserMixin compares get_id(), which names a login: one account is one user, whichever
    # login (or none) loaded it.
    def __eq__(self, other):
        if isinstance(other, User):
            return self is other or (self.id is not None and self.id == other.id)
        return NotImplemented

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = UserMixin.__hash__

    def is_minor(self, today: date | None = None) -> bool:
        return self.adult_from is not None and (today or date.today()) < self.adult_from

    @property
    def display_name(self) -> str:
        if self.profile and self.profile.display_name:
            return self.profile.display_name
        return self.username

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class NameKey(Model):
    """One lookalike key of a user's username or display name (app.auth.names keeps them), so a
    new name is checked against every member's in one indexed lookup."""

    __tablename__ = "name_keys"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # SHA-256 (hex) of a skeleton: a fixed size however far confusables.txt expands a name.
    key: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class Profile(Model):
    __tablename__ = "profiles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(50))
    bio: Mapped[str] = mapped_column(Text, default="", server_default="")
    avatar_key: Mapped[str | None] = mapped_column(String(255))
    banner_key: Mapped[str | None] = mapped_column(String(255))
    featured_channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="SET NULL")
    )
    # Theme is chosen from presets (never raw CSS): an accent name and a background preset.
    theme_accent: Mapped[str] = mapped_column(String(16), default="teal", server_default="teal")
    theme_background: Mapped[str] = mapped_column(String(32), default="plain", server_default="plain")
    background_key: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship(back_populates="profile", foreign_keys=[user_id])
    featured_channel: Mapped[Channel | None] = relationship(foreign_keys=[featured_channel_id])
    top_friends: Mapped[list[TopFriend]] = relationship(
        order_by="TopFriend.position", cascade="all, delete-orphan",
        foreign_keys="TopFriend.profile_id",
    )


class TopFriend(Model):
    """One slot of a profile's ordered "Top 8"."""

    __tablename__ = "top_friends"
    __table_args__ = (
        UniqueConstraint("profile_id", "position", name="uq_top_friends_slot"),
        UniqueConstraint("profile_id", "friend_id", name="uq_top_friends_friend"),
        CheckConstraint("position >= 0 AND position < 8", name="position"),
        CheckConstraint("profile_id <> friend_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("profiles.user_id", ondelete="CASCADE"))
    friend_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)

    friend: Mapped[User] = relationship(foreign_keys=[friend_id])


class DonationAddress(Model):
    __tablename__ = "donation_addresses"
    __table_args__ = (
        UniqueConstraint("user_id", "currency", "address", "token_symbol", name="uq_donation_addresses_entry"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    currency: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(128))
    # ERC-20 tokens only: the token's symbol and its contract on Ethereum mainnet.
    token_symbol: Mapped[str] = mapped_column(String(16), default="", server_default="")
    token_contract: Mapped[str | None] = mapped_column(String(42))
    note: Mapped[str] = mapped_column(String(200), default="", server_default="")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
