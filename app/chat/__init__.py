"""Live chat: Socket.IO events, the rules behind them, and the viewer's own chat settings."""
from flask import Blueprint, Flask

bp = Blueprint("chat", __name__)
# The routes register on bp when create_app imports them (app.ROUTE_MODULES): importing this
# package, as a worker importing its services does, loads no page.


def init_app(app: Flask) -> None:
    """Refuse to start with a CHAT_TOXICITY_SCORER that cannot be loaded, rather than on a send."""
    from .automod import load_scorer

    try:
        load_scorer(app.config.get("CHAT_TOXICITY_SCORER"))
    except ValueError as error:
        raise RuntimeError(f"CHAT_TOXICITY_SCORER: {error}") from None
