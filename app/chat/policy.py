"""A channel's chat policy and its verdict on one message (allow, hold or block): the checks, in order."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .automod import AUTOMOD_LEVELS, HELD_REASON, automod_flags
from .emotes import is_emote_only
from .links import LINK_POLICIES, link_refusal
from .terms import BLOCKED_TERM_REASON, find_blocked_term, normalise

BLOCK_CODES = ("blocked_term", "link", "emote_only", "duplicate")

EMOTE_ONLY_REASON = "This chat is in emote-only mode."
DUPLICATE_REASON = "You already sent that message."


@dataclass(frozen=True)
class ChatPolicy:
    blocked_terms: tuple[str, ...] = ()
    link_policy: str = "allow"
    allowed_domains: tuple[str, ...] = ()
    automod_level: str = "low"
    emote_only: bool = False

    def __post_init__(self):
        if self.link_policy not in LINK_POLICIES:
            raise ValueError(f"link_policy must be one of {', '.join(LINK_POLICIES)}, "
                             f"not {self.link_policy!r}")
        if self.automod_level not in AUTOMOD_LEVELS:
            raise ValueError(f"automod_level must be one of {', '.join(AUTOMOD_LEVELS)}, "
                             f"not {self.automod_level!r}")


@dataclass(frozen=True)
class Verdict:
    action: str
    reason: str = ""
    flags: tuple[str, ...] = ()

    @property
    def code(self) -> str:
        """The refusal code: one of BLOCK_CODES or "spam" for a block, "held" for a hold."""
        if self.action == "allow":
            return ""
        if self.action == "hold":
            return "held"
        first = self.flags[0] if self.flags else ""
        return first if first in BLOCK_CODES else "spam"


ALLOW = Verdict("allow")


def _duplicate_key(text: str) -> str:
    return " ".join(normalise(text).split())


def is_duplicate(text: str, recent: Sequence[str]) -> bool:
    if not recent:
        return False
    key = _duplicate_key(text)
    return any(_duplicate_key(previous) == key for previous in recent)


def check_message(text: str, policy: ChatPolicy, *, recent: Sequence[str] = (),
                  scorer: Callable[[str], float] | None = None) -> Verdict:
    """Allow, hold for review or block one message. Checks run in order: emote-only, blocked
    terms, links, duplicate, then automod (caps, repetition, toxicity)."""
    if policy.emote_only and not is_emote_only(text):
        return Verdict("block", EMOTE_ONLY_REASON, ("emote_only",))
    if policy.blocked_terms and find_blocked_term(text, policy.blocked_terms) is not None:
        return Verdict("block", BLOCKED_TERM_REASON, ("blocked_term",))
    refusal = link_refusal(text, policy.link_policy, policy.allowed_domains)
    if refusal is not None:
        return Verdict("block", refusal, ("link",))
    if is_duplicate(text, recent):
        return Verdict("block", DUPLICATE_REASON, ("duplicate",))
    if policy.automod_level != "off":
        flags = automod_flags(text, policy.automod_level, scorer)
        if flags:
            return Verdict("hold", HELD_REASON, flags)
    return ALLOW
