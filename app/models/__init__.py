"""Every model, imported once so Alembic and the workers see the whole schema without routes."""
from .analytics import ChannelDay, StreamMinute, ViewerSession
from .channel import Category, Channel, ChannelRole, Follow, hash_stream_key
from .chat import BlockedTerm, ChatBan, ChatMessage, ChatMute, ChatSettings
from .legal import LEGAL_KINDS, LegalDocument
from .login_session import LoginSession
from .moderation import ModerationAction
from .notification import Notification
from .privacy import DataExport
from .safety import Appeal, AuditEntry, Case, CaseNote, DmcaNotice, Report, Sanction
from .stream import StreamSession
from .types import utcnow
from .user import DonationAddress, Profile, TopFriend, User
from .vod import VOD

__all__ = [
    "Appeal", "AuditEntry", "BlockedTerm", "Case", "CaseNote", "DmcaNotice", "Category", "Channel", "ChannelRole",
    "ChatBan", "ChatMessage", "ChatMute", "ChatSettings", "DataExport", "DonationAddress", "Follow",
    "LEGAL_KINDS", "LegalDocument", "LoginSession", "ModerationAction", "Notification", "Profile",
    "Report", "Sanction", "StreamMinute", "StreamSession", "ChannelDay", "ViewerSession", "TopFriend", "User",
    "VOD", "hash_stream_key", "utcnow",
]
