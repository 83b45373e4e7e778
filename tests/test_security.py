"""Headers on every page, no inline script, and the theme cookie rendered server-side."""
import re

import pytest

from tests.factories import make_user

PAGES = ["/", "/signup", "/login", "/directory", "/search?q=a", "/c/alice", "/u/alice", "/does-not-exist"]


@pytest.fixture
def alice(app):
    return make_user("alice")


@pytest.mark.parametrize("path", PAGES)
def test_security_headers_on_every_page(client, alice, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


@pytest.mark.parametrize("path", PAGES)
def test_pages_have_no_inline_script_or_style(client, alice, path):
    html = client.get(path).get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert " style=" not in html, "inline style attribute"
    assert "<style" not in html


def test_hsts_only_behind_https(make_app):
    app = make_app(SECURE_COOKIES=True)
    assert "Strict-Transport-Security" in app.test_client().get("/").headers
    plain = make_app()
    assert "Strict-Transport-Security" not in plain.test_client().get("/").headers


@pytest.mark.parametrize("cookie, attribute", [
    (None, 'data-theme="auto"'), ("dark", 'data-theme="dark"'), ("light", 'data-theme="light"'),
    ("<evil>", 'data-theme="auto"'),
])
def test_theme_comes_from_cookie_so_there_is_no_flash(client, cookie, attribute):
    if cookie:
        client.set_cookie("theme", cookie)
    assert attribute in client.get("/").get_data(as_text=True)


def test_theme_form_fallback_sets_cookie(client, actions):
    response = actions.post("/theme", {"theme": "dark"}, token_from="/")
    assert response.status_code == 303
    assert any(c.startswith("theme=dark") for c in response.headers.getlist("Set-Cookie"))
    assert 'data-theme="dark"' in client.get("/").get_data(as_text=True)


def test_htmx_requests_carry_the_csrf_token_header(client):
    html = client.get("/").get_data(as_text=True)
    assert re.search(r'hx-headers="\{&#34;X-CSRFToken&#34;: &#34;[^&]+&#34;\}"', html)
