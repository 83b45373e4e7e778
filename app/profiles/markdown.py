"""Profile bios: a small Markdown subset rendered to HTML that is safe to show anyone."""
from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

MAX_BIO_CHARS = 2000

# Paragraphs, emphasis, links, lists and line breaks; everything else stays literal text.
# html=False escapes any raw HTML; linkify is off so only explicit [text](url) links exist.
_md = (
    MarkdownIt("zero", {"html": False, "breaks": True, "typographer": False})
    .enable(["emphasis", "link", "list", "newline", "escape", "backticks"])
)
# Images are not part of the "zero" preset; refuse them even if someone enables rules later.
_md.disable(["image"], ignoreInvalid=True)

ALLOWED_TAGS = {"p", "br", "em", "strong", "a", "ul", "ol", "li", "code"}
ALLOWED_ATTRIBUTES = {"a": {"href"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow noopener noreferrer ugc"


def _safe_link(url: str) -> bool:
    return url.split(":", 1)[0].lower() in URL_SCHEMES if ":" in url else False


# markdown-it already drops javascript:, vbscript:, file: and data: links; this keeps only
# absolute web and mail links, so relative or protocol-less tricks never reach the page either.
_md.validateLink = _safe_link  # type: ignore[method-assign]  # markdown-it's documented hook


def render_bio(text: str | None) -> Markup:
    """The bio as sanitised HTML, ready for a template; empty markup for an empty bio."""
    if not text or not text.strip():
        return Markup("")
    html = _md.render(text[:MAX_BIO_CHARS])
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
        clean_content_tags={"script", "style"},
        strip_comments=True,
    )
    return Markup(clean)  # noqa: S704 - nh3's allowlist output
