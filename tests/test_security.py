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


def connect_src(response) -> list[str]:
    directives = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    return directives["connect-src"].split()


@pytest.mark.parametrize("base_url, expected", [
    ("http://127.0.0.1:8080", ["'self'", "ws://127.0.0.1:8080"]),
    ("https://live.example.org", ["'self'", "wss://live.example.org"]),
    ("http://[::1]:8080", ["'self'", "ws://[::1]:8080"]),
])
def test_connect_src_names_only_this_sites_origins(client, base_url, expected):
    assert connect_src(client.get("/", base_url=base_url)) == expected


def test_connect_src_follows_the_host_nginx_forwards(make_app):
    app = make_app(PROXY_COUNT=1)
    response = app.test_client().get("/", headers={
        "X-Forwarded-Host": "live.example.org", "X-Forwarded-Proto": "https"})
    assert connect_src(response) == ["'self'", "wss://live.example.org"]


@pytest.mark.parametrize("host", ["evil.example; connect-src *", "a b", "x'y"])
def test_a_host_header_cannot_write_into_the_policy(client, host):
    response = client.get("/", headers={"Host": host})
    assert connect_src(response) == ["'self'"]
    assert "*" not in response.headers["Content-Security-Policy"]
