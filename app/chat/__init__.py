"""Live chat: Socket.IO events, the rules behind them, and the viewer's own chat settings."""
from flask import Blueprint, Flask

bp = Blueprint("chat", __name__)

from . import events, routes  # noqa: E402,F401 - they need bp; Socket.IO handlers and routes register on import


def init_app(app: Flask) -> None:
    """Refuse to start with a CHAT_TOXICITY_SCORER that cannot be loaded, rather than on a send."""
    from .automod import load_scorer

    try:
        load_scorer(app.config.get("CHAT_TOXICITY_SCORER"))
    except ValueError as error:
        raise RuntimeError(f"CHAT_TOXICITY_SCORER: {error}") from None
