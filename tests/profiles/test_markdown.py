"""Bios: a small Markdown subset, sanitised, with safe links only."""
import pytest

from app.profiles.markdown import LINK_REL, MAX_BIO_CHARS, render_bio


def test_the_subset_renders():
    html = str(render_bio("Hi *there* and **you**\nnext line\n\n- one\n- two\n\n1. first"))
    assert "<em>there</em>" in html and "<strong>you</strong>" in html
    assert "<br>" in html
    assert "<ul>" in html and "<li>one</li>" in html and "<ol>" in html


def test_links_get_rel_and_stay_absolute_web_links():
    html = str(render_bio("[site](https://example.com/a?b=1) [mail](mailto:me@example.com)"))
    assert '<a href="https://example.com/a?b=1" rel="nofollow noopener noreferrer ugc">site</a>' in html
    assert 'href="mailto:me@example.com"' in html
    assert html.count(f'rel="{LINK_REL}"') == 2


@pytest.mark.parametrize("source", [
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](java\nscript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "[x](vbscript:msgbox)",
    "[x](//evil.example/path)",
    "[x](/relative)",
])
def test_unsafe_links_are_dropped(source):
    html = str(render_bio(source))
    assert "<a" not in html
    assert "href" not in html


@pytest.mark.parametrize("source, forbidden", [
    ("<script>alert(1)</script>", "<script"),
    ('<img src=x onerror="alert(1)">', "<img"),
    ("<b onclick=alert(1)>hi</b>", "<b"),
    ("<iframe src=https://evil.example></iframe>", "<iframe"),
    ('<a href="javascript:alert(1)">x</a>', "<a"),
    ("<style>body{display:none}</style>", "<style"),
    ("![pic](https://example.com/pic.png)", "<img"),
    ("# Big heading", "<h1"),
    ("> quoted", "<blockquote"),
])
def test_raw_html_images_and_other_blocks_are_not_markup(source, forbidden):
    html = str(render_bio(source))
    assert forbidden not in html


def test_raw_html_is_shown_as_text():
    assert "&lt;script&gt;" in str(render_bio("<script>alert(1)</script>"))


def test_empty_bio_is_empty_markup():
    assert str(render_bio("")) == "" and str(render_bio("   \n")) == ""


def test_overlong_bio_is_cut():
    assert len(str(render_bio("a" * (MAX_BIO_CHARS + 500)))) < MAX_BIO_CHARS + 50
