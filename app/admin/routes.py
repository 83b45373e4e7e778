"""/admin/live: the live hosts and open sessions, refreshing itself while an admin watches."""
from __future__ import annotations

from flask import current_app
from flask_login import current_user, login_required
from werkzeug.exceptions import Forbidden

from ..errors import with_message
from ..extensions import optional_redis
from ..htmx import render_page_or_fragment
from ..live import admin as live_admin
from ..live.state import LiveKeys
from . import bp

REFRESH_SECONDS = 5


def require_admin() -> None:
    """Signed-in non-admins get 403, as on the other admin pages (anonymous visitors were sent to
    the login page by login_required)."""
    if not current_user.is_admin:
        raise with_message(Forbidden(), "Only site admins can see the live hosts.")


@bp.route("/live")
@login_required
def live():
    require_admin()
    # The quick client: with Redis away the page says so at once instead of waiting on it.
    overview = live_admin.overview(optional_redis().client, LiveKeys(current_app.config))
    return render_page_or_fragment("admin/live.html", "admin/_live.html", overview=overview,
                                   refresh_seconds=REFRESH_SECONDS)
