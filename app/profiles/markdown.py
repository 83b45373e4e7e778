"""Markdown written on the site, rendered to HTML that is safe to show anyone: profile bios (a small
subset) and the operator's legal pages (documents with headings, app.legal)."""
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


# Documents: the bio's subset plus headings, quotes and rules; links are the operator's own.
_document_md = (
    MarkdownIt("zero", {"html": False, "breaks": False, "typographer": False})
    .enable(["emphasis", "link", "list", "newline", "escape", "backticks", "heading", "lheading",
             "blockquote", "hr"])
)
_document_md.disable(["image"], ignoreInvalid=True)


def _document_link(url: str) -> bool:
    """The operator's pages may also link within the site (/dmca/notice), never protocol-relative."""
    return _safe_link(url) or (url.startswith("/") and not url.startswith("//") and "\\" not in url)


_document_md.validateLink = _document_link  # type: ignore[method-assign]  # markdown-it's documented hook
DOCUMENT_TAGS = ALLOWED_TAGS | {"h2", "h3", "h4", "blockquote", "hr"}


def _clean(html: str, tags: set[str], link_rel: str | None) -> Markup:
    clean = nh3.clean(
        html,
        tags=tags,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=link_rel,
        clean_content_tags={"script", "style"},
        strip_comments=True,
    )
    return Markup(clean)  # noqa: S704 - nh3's allowlist output


def render_bio(text: str | None) -> Markup:
    """The bio as sanitised HTML, ready for a template; empty markup for an empty bio."""
    if not text or not text.strip():
        return Markup("")
    return _clean(_md.render(text[:MAX_BIO_CHARS]), ALLOWED_TAGS, LINK_REL)


def render_document(text: str) -> Markup:
    """A legal page's Markdown as sanitised HTML. A document's own title is the page's h1, so its
    headings start at h2 (a `#` heading is shown as h2)."""
    html = _document_md.render(text).replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    return _clean(html, DOCUMENT_TAGS, "noopener noreferrer")
