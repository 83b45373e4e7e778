"""What can be reported, and why: the instance's rules plus the reasons every instance has.

A reason is a short key stored on reports and actions: `rule-1`... for the instance's rules (in
SITE_RULES order), and `child_safety`, `illegal`, `copyright`. Each has a priority: the queue
shows child safety first, then illegal content, then copyright, then rule breaks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app

DEFAULT_RULES = (
    "No harassment, hate, threats or bullying of anyone, on stream or in chat.",
    "No spam, scams, impersonation or misleading links.",
    "No sexual content outside channels labelled mature, and none ever involving minors.",
    "No glorifying violence, self-harm or dangerous acts.",
    "No sharing other people's private information.",
    "Label mature content, and keep to the labels you chose.",
)


@dataclass(frozen=True)
class Reason:
    key: str
    label: str  # what a reporter picks
    text: str  # what a statement of reasons quotes
    priority: int  # 0 is handled first


# The reasons every instance has, whatever its rules say, most urgent first.
CHILD_SAFETY = Reason("child_safety", "Child safety: a minor at risk or sexualised",
                      "Content that endangers or sexualises minors is never allowed.", 0)
ILLEGAL = Reason("illegal", "Illegal content", "Content that is illegal where it is published.", 1)
COPYRIGHT = Reason("copyright", "Copyright infringement",
                   "Content that infringes someone's copyright (17 U.S.C. §512).", 2)
LEGAL_REASONS = (CHILD_SAFETY, ILLEGAL, COPYRIGHT)
RULE_PRIORITY = 3


def site_rules() -> list[str]:
    configured = [rule.strip() for rule in re.split(r"[\n|]", current_app.config["SITE_RULES"])]
    return [rule for rule in configured if rule] or list(DEFAULT_RULES)


def rule_reasons() -> list[Reason]:
    return [Reason(f"rule-{number}", f"Breaks rule {number}: {text}", f"Rule {number}: {text}",
                   RULE_PRIORITY) for number, text in enumerate(site_rules(), start=1)]


def reasons() -> list[Reason]:
    """Every reason, the legal ones first."""
    return [*LEGAL_REASONS, *rule_reasons()]


def reason(key: str) -> Reason | None:
    return next((found for found in reasons() if found.key == key), None)


def reason_text(key: str) -> str:
    """The rule a stored key names, for pages; a rule since removed reads as its key."""
    found = reason(key)
    return found.text if found else key
