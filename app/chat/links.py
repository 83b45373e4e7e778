"""Links in chat text: finding them as a browser reads them, allowlisted domains and the link policy."""
from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import idna
from linkify_it import LinkifyIt
from linkify_it.tlds import TLDS

LINK_POLICIES = ("allow", "block", "allowlist")
LINK_REASON = "Links are not allowed in this chat."

# Real top-level domains that are far more often file names in chat ("main.py", "notes.md");
# links with a scheme (https://x.py) are still found.
_FILE_LIKE_TLDS = frozenset({"md", "py", "zip", "mov"})


def _fuzzy_tlds() -> list[str]:
    tlds = []
    for tld in TLDS:
        tld = tld.lower()
        if tld in _FILE_LIKE_TLDS:
            continue
        tlds.append(tld)
        if tld.startswith("xn--"):
            try:
                tlds.append(idna.decode(tld))
            except idna.IDNAError:
                pass
    return tlds


_LINKIFY = LinkifyIt(options={"fuzzy_email": False, "fuzzy_ip": False}).tlds(_fuzzy_tlds())
_LINKIFY.add("mailto:", None)  # e-mail addresses are not links for the link policy


# Every link linkify can find here has "//" or a dot before a top-level domain of 2+ letters
# (fuzzy IPs and e-mail are off).
_MAY_HOLD_LINK = re.compile(r"//|[.。．｡][^\W\d_]{2}")


@dataclass(frozen=True)
class Link:
    raw: str        # as written in the text
    href: str       # http(s) address to link to, or "" when it is not a web link (ftp:)
    host: str       # lower-case host name as written ("" when none could be read)
    start: int
    end: int

    @property
    def ascii_host(self) -> str:
        return ascii_domain(self.host)


def _web_href(schema: str, raw: str) -> str:
    # Browsers read a backslash in a web address as a slash; urlsplit does not. Writing it as
    # one keeps the host we check the same as the host the browser visits.
    raw = raw.replace("\\", "/")
    schema = schema.lower()
    if schema in ("http:", "https:"):
        return raw
    if schema == "//":
        return "https:" + raw
    if schema == "":
        return "https://" + raw
    return ""


def _host_of(schema: str, raw: str) -> str:
    address = raw.replace("\\", "/")
    if schema == "":
        address = "//" + address
    try:
        host = urlsplit(address).hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".")


def scan_links(text: str) -> list[Link]:
    """Every URL and bare domain in the text, with its position."""
    if not _MAY_HOLD_LINK.search(text):
        return []  # spares linkify, which is slow on texts full of dots
    matches = _LINKIFY.match(text) or []
    return [Link(raw=m.raw, href=_web_href(m.schema, m.raw), host=_host_of(m.schema, m.raw),
                 start=m.index, end=m.last_index) for m in matches]


def _link_view(text: str) -> str:
    """The text as a browser would read addresses in it: fullwidth letters folded, invisible
    characters gone ("exa\u200bmple.com" is example.com)."""
    if text.isascii():
        return text
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if unicodedata.category(ch) not in ("Cf", "Cc"))


def find_links(text: str) -> list[str]:
    """The links (URLs and bare domains) in a message, as a browser reads them (fullwidth
    letters folded, invisible characters dropped)."""
    return [link.raw for link in scan_links(_link_view(text))]


def ascii_domain(host: str) -> str:
    """The ASCII (IDNA) form of a host, for comparing; the host itself if it cannot be encoded."""
    host = host.strip().rstrip(".").lower()
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        return host


# Country suffixes many unrelated sites register under ("co.uk"): allowing one would allow them all.
_SHARED_SECOND_LEVELS = frozenset({"co", "com", "net", "org", "ac", "gov", "edu", "ne", "or", "go", "gob"})
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def validate_domain(domain: str) -> str:
    """A domain for a link allowlist, as typed in a settings form: scheme, path, port, a leading
    "www." or "*." are dropped; returned in lower-case ASCII (IDNA, "xn--...") form, which shows
    lookalike letters for what they are. Raises ValueError with a reason."""
    if not isinstance(domain, str) or not domain.strip():
        raise ValueError("Enter a domain such as example.com.")
    value = unicodedata.normalize("NFKC", domain.strip())
    if re.search(r"\s", value):
        raise ValueError("A domain cannot contain spaces.")
    if "://" not in value:
        value = "//" + value.removeprefix("//")
    try:
        parts = urlsplit(value.replace("\\", "/"))
        host = parts.hostname or ""
        parts.port  # noqa: B018 - reading it raises ValueError for a junk port
    except ValueError:
        raise ValueError(f"{domain.strip()!r} is not a domain name.") from None
    if parts.scheme and parts.scheme.lower() not in ("http", "https"):
        raise ValueError("Enter a web domain (http or https), such as example.com.")
    host = host.rstrip(".")
    for prefix in ("*.", "www."):
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix):]
    if not host:
        raise ValueError("Enter a domain such as example.com.")
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii") if not host.isascii() else host
    except idna.IDNAError:
        raise ValueError(f"{host!r} is not a valid domain name.") from None
    labels = ascii_host.split(".")
    if len(labels) < 2:
        raise ValueError("Enter a full domain with a dot, such as example.com.")
    if len(ascii_host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"{host!r} is not a valid domain name.")
    if labels[-1].isdigit():
        raise ValueError("Enter a domain name such as example.com, not an IP address.")
    if len(labels) == 2 and len(labels[1]) == 2 and labels[0] in _SHARED_SECOND_LEVELS:
        raise ValueError(f"{ascii_host} is shared by many sites; enter a full domain such as "
                         f"example.{ascii_host}.")
    return ascii_host


@functools.lru_cache(maxsize=256)
def _allowed_hosts(domains: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ascii_domain(d) for d in domains if d and d.strip()))


def host_allowed(host: str, allowed_domains: Sequence[str]) -> bool:
    """Whether a host is an allowed domain or a subdomain of one."""
    if not host:
        return False
    host = ascii_domain(host)
    return any(host == domain or host.endswith("." + domain)
               for domain in _allowed_hosts(tuple(allowed_domains)))


def link_refusal(text: str, link_policy: str, allowed_domains: Sequence[str] = ()) -> str | None:
    """Why the link policy refuses this text (naming the first host it does not allow), or None."""
    if link_policy == "allow":
        return None
    links = scan_links(_link_view(text))
    if not links:
        return None
    if link_policy == "block":
        return LINK_REASON
    for link in links:
        if not host_allowed(link.host, allowed_domains):
            shown = link.host or link.raw
            return f"Links to {shown} are not allowed here."
    return None
