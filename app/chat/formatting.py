"""Turn a chat message's text into the safe HTML broadcast to every viewer."""
from __future__ import annotations

import re
from collections.abc import Sequence

from markupsafe import Markup, escape

from .emotes import find_shortcodes, is_emote_only
from .links import LINK_POLICIES, host_allowed, scan_links

__all__ = ["render_text", "is_emote_only"]

LINK_ATTRIBUTES = 'rel="nofollow noopener noreferrer ugc" target="_blank"'

# Controls and bidi overrides could reorder or hide what follows the message on the page.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _plain(text: str, parts: list[str]) -> None:
    """Escaped text with :shortcodes: turned into their emoji characters."""
    last = 0
    for start, end, char in find_shortcodes(text):
        parts.append(escape(text[last:start]))
        parts.append(char)
        last = end
    parts.append(escape(text[last:]))


def render_text(text: str, *, link_policy: str = "allow",
                allowed_domains: Sequence[str] = ()) -> Markup:
    """The message as HTML: everything escaped, :shortcodes: as emoji, and web links the policy
    allows as anchors (http and https only; bare domains get https://). Other links stay text."""
    if link_policy not in LINK_POLICIES:
        raise ValueError(f"link_policy must be one of {', '.join(LINK_POLICIES)}, not {link_policy!r}")
    text = _INVISIBLE.sub("", text)
    parts: list[str] = []
    last = 0
    if link_policy != "block":
        for link in scan_links(text):
            if not link.href or (link_policy == "allowlist"
                                 and not host_allowed(link.host, allowed_domains)):
                continue
            _plain(text[last:link.start], parts)
            parts.append(f'<a href="{escape(link.href)}" {LINK_ATTRIBUTES}>{escape(link.raw)}</a>')
            last = link.end
    _plain(text[last:], parts)
    return Markup("".join(parts))  # noqa: S704 - every piece above is escaped
