"""Chat message rules as pure text checks: blocked terms, links, emote-only, spam and the verdict."""
from __future__ import annotations

import functools
import logging
import math
import re
import string
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import emoji
import idna
from linkify_it import LinkifyIt
from linkify_it.tlds import TLDS

log = logging.getLogger("app.chat")

LINK_POLICIES = ("allow", "block", "allowlist")
AUTOMOD_LEVELS = ("off", "low", "high")
BLOCK_CODES = ("blocked_term", "link", "emote_only", "duplicate")

MAX_TERM_LENGTH = 100
HELD_REASON = "Your message is waiting for a moderator to review it."
BLOCKED_TERM_REASON = "Your message contains a word or phrase that is not allowed in this chat."
LINK_REASON = "Links are not allowed in this chat."
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


# --- links ---------------------------------------------------------------------------------------

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


def link_refusal(text: str, link_policy: str, allowed_domains: Sequence[str] = ()) -> Verdict | None:
    if link_policy == "allow":
        return None
    links = scan_links(_link_view(text))
    if not links:
        return None
    if link_policy == "block":
        return Verdict("block", LINK_REASON, ("link",))
    for link in links:
        if not host_allowed(link.host, allowed_domains):
            shown = link.host or link.raw
            return Verdict("block", f"Links to {shown} are not allowed here.", ("link",))
    return None


# --- emoji ---------------------------------------------------------------------------------------

_SHORTCODE_START = re.compile(r":(?=([^:\s]{1,80}):)")


@functools.cache
def _shortcodes() -> dict[str, str]:
    """":name:" -> emoji for English names and aliases, built once (emoji's own lookup scans)."""
    fully_qualified = emoji.STATUS["fully_qualified"]
    table: dict[str, str] = {}
    for char, data in emoji.EMOJI_DATA.items():
        if data["status"] > fully_qualified:
            continue
        table.setdefault(data["en"], char)
    for char, data in emoji.EMOJI_DATA.items():
        if data["status"] > fully_qualified:
            continue
        for alias in data.get("alias", ()):
            table[alias] = char
    return table


def find_shortcodes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, emoji) for each :shortcode: that names an emoji, left to right."""
    if ":" not in text:
        return []
    table = _shortcodes()
    found: list[tuple[int, int, str]] = []
    last_end = 0
    for candidate in _SHORTCODE_START.finditer(text):
        start = candidate.start()
        if start < last_end:
            continue
        end = start + len(candidate.group(1)) + 2
        char = table.get(text[start:end])
        if char:
            found.append((start, end, char))
            last_end = end
    return found


def is_emote_only(text: str) -> bool:
    """Only emoji (characters or :shortcodes:) and whitespace, and at least one of them."""
    pieces, last = [], 0
    for start, end, _char in find_shortcodes(text):
        pieces.append(text[last:start])
        last = end
    pieces.append(text[last:])
    rest = "".join("".join(pieces).split())
    if not rest:
        return last > 0
    return emoji.purely_emoji(rest)


# --- spam heuristics -----------------------------------------------------------------------------

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
    words = [w.strip(string.punctuation) for w in _duplicate_key(text).split()]
    words = [w for w in words if w]
    glued = max((_glued_repeats(w) for w in words), default=0)
    return max(_longest_phrase_run(words), glued)


def _duplicate_key(text: str) -> str:
    return " ".join(normalise(text).split())


def is_duplicate(text: str, recent: Sequence[str]) -> bool:
    if not recent:
        return False
    key = _duplicate_key(text)
    return any(_duplicate_key(previous) == key for previous in recent)


def _score(scorer: Callable[[str], float], text: str) -> float:
    try:
        score = float(scorer(text))
    except Exception:  # a plug-in scorer must not stop chat: no hint is better than no chat
        log.exception("chat toxicity scorer failed; message not scored")
        return 0.0
    if math.isnan(score):
        return 0.0
    return min(1.0, max(0.0, score))


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
        from .automod import lexicon_score  # automod builds on this module's term patterns
        scorer = lexicon_score
    score = _score(scorer, text)
    if score >= limits.toxicity:
        flags.append(f"toxicity:{score:.2f}")
    return tuple(flags)


# --- the verdict ---------------------------------------------------------------------------------

def check_message(text: str, policy: ChatPolicy, *, recent: Sequence[str] = (),
                  scorer: Callable[[str], float] | None = None) -> Verdict:
    """Allow, hold for review or block one message. Checks run in order: emote-only, blocked
    terms, links, duplicate, then automod (caps, repetition, toxicity)."""
    if policy.emote_only and not is_emote_only(text):
        return Verdict("block", EMOTE_ONLY_REASON, ("emote_only",))
    if policy.blocked_terms:
        pattern = compile_terms(policy.blocked_terms)
        if pattern is not None and pattern.search(normalise(text)):
            return Verdict("block", BLOCKED_TERM_REASON, ("blocked_term",))
    refusal = link_refusal(text, policy.link_policy, policy.allowed_domains)
    if refusal is not None:
        return refusal
    if is_duplicate(text, recent):
        return Verdict("block", DUPLICATE_REASON, ("duplicate",))
    if policy.automod_level != "off":
        flags = automod_flags(text, policy.automod_level, scorer)
        if flags:
            return Verdict("hold", HELD_REASON, flags)
    return ALLOW
