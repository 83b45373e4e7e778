"""Every cookie the site sets, and why each is strictly necessary: the privacy page lists them and
tests/privacy/test_cookies.py holds the app to this list. A new cookie needs a row here first, and
only one a member's own request needs (ePrivacy art. 5(3): no consent is asked, so none may be
for analytics, advertising or anything else optional). Anonymous viewers get only the session
cookie, holding the token that protects forms against forgery (a security cookie)."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app


@dataclass(frozen=True)
class Cookie:
    name: str
    purpose: str
    lifetime: str


def strictly_necessary() -> list[Cookie]:
    from ..auth.age import REFUSED_COOKIE
    from ..auth.limits import KNOWN_BROWSER_COOKIE, KNOWN_BROWSER_DAYS
    from ..home.routes import THEME_COOKIE
    from ..mature import MATURE_COOKIE

    config = current_app.config
    remember_days = int(config["REMEMBER_COOKIE_DURATION"]) // 86400
    return [
        Cookie(config["SESSION_COOKIE_NAME"], "Protects forms against forgery (a random token) and, once "
               "you log in, keeps you logged in.", "until you close the browser or log out"),
        Cookie(config.get("REMEMBER_COOKIE_NAME", "remember_token"),
               "Keeps you logged in across browser restarts, only if you tick “Remember me”.",
               f"{remember_days} days"),
        Cookie(KNOWN_BROWSER_COOKIE, "Lets a browser you logged in with before past the failed-login limit, "
               "so guesses from elsewhere can't lock you out.", f"{KNOWN_BROWSER_DAYS} days"),
        Cookie(REFUSED_COOKIE, "Marks a browser that was refused an account for its age (legally required; "
               "no date or name in it).", "1 year"),
        Cookie(THEME_COOKIE, "Your choice of light or dark theme, set only when you pick one.", "1 year"),
        Cookie(MATURE_COOKIE, "Remembers that you chose to see mature content, set only when you do "
               "(never for a minor's account).", "1 year"),
    ]
