"""Privacy rights (GDPR/CCPA): data exports, the Global Privacy Control signal; erasure is
app.auth.deletion. The member's page is Settings → Your data (app.settings.privacy)."""
from flask import Blueprint

bp = Blueprint("privacy", __name__)
# The routes register on bp when create_app imports them (app.ROUTE_MODULES): a worker that
# imports app.privacy.exports loads no page.
