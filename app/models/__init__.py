"""Every model, imported once so Alembic and the workers see the whole schema without routes."""
from .channel import Category, Channel, ChannelRole, Follow, hash_stream_key
from .chat import BlockedTerm, ChatBan, ChatMessage, ChatMute, ChatSettings
from .login_session import LoginSession
from .moderation import ModerationAction, Report
from .notification import Notification
from .stream import StreamSession
from .types import utcnow
from .user import DonationAddress, Profile, TopFriend, User
from .vod import VOD

__all__ = [
    "BlockedTerm", "Category", "Channel", "ChannelRole", "ChatBan", "ChatMessage", "ChatMute",
    "ChatSettings", "DonationAddress", "Follow", "LoginSession",
    "ModerationAction", "Notification", "Profile", "Report", "StreamSession", "TopFriend", "User", "VOD",
    "hash_stream_key", "utcnow",
]
