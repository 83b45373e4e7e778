"""Chat formatting: a message's text as safe HTML with emoji and allowed links."""
import pytest
from markupsafe import Markup

from app.chat.formatting import LINK_ATTRIBUTES, is_emote_only, render_text


def anchor(href: str, text: str) -> str:
    return f'<a href="{href}" {LINK_ATTRIBUTES}>{text}</a>'


def test_plain_text_is_escaped_markup():
    html = render_text("<script>alert('x')</script> & \"quotes\"")
    assert isinstance(html, Markup)
    assert html == "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;quotes&#34;"


def test_markup_input_is_still_escaped():
    assert render_text(Markup("<b>hi</b>")) == "&lt;b&gt;hi&lt;/b&gt;"


@pytest.mark.parametrize("text", [
    "<img src=x onerror=alert(1)>", "\" onmouseover=\"alert(1)", "<a href='javascript:alert(1)'>x</a>",
    "<svg/onload=alert(1)>", "&lt;script&gt;", "<scr<script>ipt>",
])
def test_nothing_the_sender_types_becomes_a_tag(text):
    html = str(render_text(text))
    assert "<" not in html and ">" not in html and '"' not in html and "'" not in html


def test_shortcodes_become_emoji():
    assert render_text("gg :smile: :thumbsup: :fire:") == "gg 😄 👍 🔥"


def test_unknown_or_broken_shortcodes_stay_text():
    assert render_text(":notanemoji: :smile 10:30:45 ::") == ":notanemoji: :smile 10:30:45 ::"
    assert render_text("<:smile:>") == "&lt;😄&gt;"


def test_adjacent_shortcodes():
    assert render_text(":smile::fire:") == "😄🔥"
    assert render_text("x:y:smile:") == "x:y😄"


def test_bare_domain_links_with_https():
    assert render_text("see example.com now") == "see " + anchor("https://example.com", "example.com") + " now"


def test_full_urls_link_as_written():
    url = "http://example.com/path?a=1&b=2"
    assert render_text(url) == anchor("http://example.com/path?a=1&amp;b=2", "http://example.com/path?a=1&amp;b=2")


def test_scheme_relative_links_get_https():
    assert render_text("//example.com/x") == anchor("https://example.com/x", "//example.com/x")


def test_quote_ends_a_link_and_cannot_open_an_attribute():
    html = render_text('https://e.com/"onmouseover=alert(1)')
    assert html == anchor("https://e.com/", "https://e.com/") + "&#34;onmouseover=alert(1)"


@pytest.mark.parametrize("text", [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html;base64,PHNjcmlwdD4=",
    "vbscript:msgbox(1)", "ftp://example.com/file", "mailto:someone@example.com", "someone@example.com",
])
def test_only_web_links_become_anchors(text):
    assert "<a" not in render_text(text)


def test_link_policy_block_links_nothing():
    assert render_text("see example.com", link_policy="block") == "see example.com"


def test_allowlist_links_only_allowed_hosts():
    html = render_text("example.com docs.example.com evil.com example.com.evil.com",
                       link_policy="allowlist", allowed_domains=["example.com"])
    assert html == (anchor("https://example.com", "example.com") + " "
                    + anchor("https://docs.example.com", "docs.example.com")
                    + " evil.com example.com.evil.com")


def test_allowlist_user_info_trick_stays_text():
    html = render_text("https://example.com@evil.test/", link_policy="allowlist",
                       allowed_domains=["example.com"])
    assert "<a" not in html


def test_backslash_in_a_link_is_written_as_the_slash_browsers_read():
    html = render_text("https://evil.test\\@example.com")
    assert html == anchor("https://evil.test/@example.com", "https://evil.test\\@example.com")


def test_unknown_link_policy_is_refused():
    with pytest.raises(ValueError):
        render_text("x", link_policy="maybe")


def test_bidi_overrides_and_controls_are_dropped():
    assert render_text("abc\u202egnp.exe\u2066x\x00\x1b") == "abcgnp.exex"


def test_emoji_sequences_survive():
    family = "👨\u200d👩\u200d👧 🇫🇷 ❤️"
    assert render_text(family) == family


def test_shortcodes_inside_links_are_left_alone():
    html = render_text("https://example.com/:smile:")
    assert html == anchor("https://example.com/:smile:", "https://example.com/:smile:")


def test_is_emote_only_is_available_here():
    assert is_emote_only(":smile: 😄")
    assert not is_emote_only("hi")
