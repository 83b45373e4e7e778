"""Mature content: content labels on channels and VODs, the interstitial that stands in for the
player until a viewer passes it, and the viewer's filter (hide labelled channels)."""
from flask import Blueprint

# The signed, strictly necessary cookie that says a browser passed the interstitial (app.mature.gate);
# nginx's playlist check passes it to the app (media/nginx.conf.j2, app.deploy.nginx).
MATURE_COOKIE = "mature_ok"

bp = Blueprint("mature", __name__)
# The routes register on bp when create_app imports them (app.ROUTE_MODULES): importing this
# package, as a worker importing its labels does, loads no page.
