"""Only strictly necessary cookies: every cookie any flow sets is one app.privacy.cookies lists with
its purpose, an anonymous visitor gets nothing but the session cookie's anti-forgery token, and no
page may make the browser ask another site for anything (the CSP allows this site only)."""
from __future__ import annotations

import re
from http.cookies import SimpleCookie
from pathlib import Path

from app.privacy.cookies import strictly_necessary
from tests.conftest import Actions
from tests.factories import make_user

ROOT = Path(__file__).resolve().parents[2]
ANONYMOUS_PAGES = ("/", "/directory", "/search?q=bob", "/c/bob", "/u/bob", "/c/bob/videos", "/login", "/signup",
                   "/forgot-password", "/legal/privacy", "/legal/terms", "/.well-known/gpc.json")


def set_cookies(response) -> dict[str, SimpleCookie]:
    found = {}
    for header in response.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        found.update({name: cookie for name in cookie})
    return found


def listed() -> set[str]:
    names = [cookie.name for cookie in strictly_necessary()]
    assert len(names) == len(set(names)), names  # one row per cookie
    return set(names)


def test_an_anonymous_visitor_gets_only_the_anti_forgery_session(app):
    make_user("bob")
    visitor = app.test_client()
    for path in ANONYMOUS_PAGES:
        response = visitor.get(path, headers={"Sec-GPC": "1"})
        assert response.status_code == 200, path
        for name, cookie in set_cookies(response).items():
            assert name == app.config["SESSION_COOKIE_NAME"], (path, name)
            morsel = cookie[name]
            assert not morsel["expires"] and not morsel["max-age"]  # gone with the browser
            assert morsel["httponly"] and morsel["samesite"] == "Lax"
    # What it holds: the CSRF token (and Flask-Login's freshness flag), nothing about the visitor.
    with visitor.session_transaction() as session:
        assert set(session) <= {"csrf_token", "_fresh"}


def test_every_cookie_any_flow_sets_is_a_listed_strictly_necessary_one(app):
    make_user("alice")
    seen: set[str] = set()
    browser = app.test_client()
    seen |= set(set_cookies(browser.get("/")))
    seen |= set(set_cookies(Actions(browser).login("alice", "correct horse battery", remember=True)))
    seen |= set(set_cookies(Actions(browser).post("/theme", {"theme": "dark"}, token_from="/")))
    seen |= set(set_cookies(Actions(browser).logout()))
    refused = Actions(app.test_client()).signup("young", birth_date="2020-01-01")
    assert refused.status_code == 403
    seen |= set(set_cookies(refused))
    assert seen <= listed()
    assert seen >= {app.config["SESSION_COOKIE_NAME"], "remember_token", "cascade_known_logins", "theme",
                    "signup_refused"}


def test_only_the_listed_modules_set_cookies(app):
    """A new cookie must be added to app/privacy/cookies.py (and so to the privacy page) first."""
    setters = {path.relative_to(ROOT).as_posix() for path in (ROOT / "app").rglob("*.py")
               if "set_cookie(" in path.read_text(encoding="utf-8")}
    assert setters == {"app/auth/limits.py", "app/auth/age.py", "app/home/routes.py", "app/mature/gate.py"}
    scripts = {path.name for path in (ROOT / "app/static/js").glob("*.js")
               if "document.cookie" in path.read_text(encoding="utf-8")}
    assert scripts == {"site.js"}  # the theme toggle's cookie, listed as "theme"
    assert 'var THEME_COOKIE = "theme";' in (ROOT / "app/static/js/site.js").read_text(encoding="utf-8")
    assert "theme" in listed()


def test_no_page_can_reach_another_site(app):
    make_user("bob")
    response = app.test_client().get("/c/bob")
    policy = response.headers["Content-Security-Policy"]
    for directive in policy.split(";"):
        name, *sources = directive.split()
        for source in sources:
            assert source in ("'self'", "'none'", "data:", "blob:", "ws://localhost", "wss://localhost"), \
                (name, source)
    page = response.get_data(as_text=True)
    assert not re.search(r'<(script|link|img|iframe|video|audio|source)[^>]+(src|href)="(https?:)?//', page)
