"""Settings for Cascade Live, read from the environment (and a `.env` file) with safe defaults."""
import logging
import os
import secrets
from pathlib import Path

from dotenv import load_dotenv

from .environment import (
    flag,
    networks,
    number,
    one_of,
    positive_whole_number,
    rate_limits,
    sqlalchemy_url,
    url,
    whole_number,
)

ROOT = Path(__file__).resolve().parent.parent
load_dotenv(ROOT / ".env")


def database_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def private_sqlite_file(uri: str) -> None:
    """Create a file-backed SQLite database's directory (0700) and empty file (0600) if missing.

    It holds password hashes and stream keys. SQLite would create the file 0644; made here
    first, it keeps 0600, and SQLite gives its -wal, -shm and -journal files the same mode.
    Existing paths are left as they are (an operator may have chosen otherwise).
    """
    from sqlalchemy.engine import make_url

    url = make_url(uri)
    path = url.database
    if url.get_backend_name() != "sqlite" or not path or path == ":memory:" or path.startswith("file:"):
        return
    Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def local_address(bind_address: str) -> str:
    """How a process on this box reaches a server listening on `bind_address` (URL form)."""
    if bind_address in ("", "0.0.0.0"):
        return "127.0.0.1"
    if bind_address == "::":
        return "[::1]"
    return f"[{bind_address}]" if ":" in bind_address else bind_address


def request_body_limit(picture_max_mb: int) -> int:
    """The largest request body the site takes, in bytes (Flask's MAX_CONTENT_LENGTH and nginx's
    client_max_body_size): a picture of PICTURE_MAX_MB and a megabyte for the form around it."""
    return (int(picture_max_mb) + 1) * 1024 * 1024


# nginx keeps an idle connection to gunicorn this long (its upstream `keepalive_timeout`) and
# gunicorn keeps it open longer (gunicorn.conf.py): so nginx never reuses a connection just as
# gunicorn closes it, which costs a POST a 502 (nginx retries only idempotent requests).
UPSTREAM_IDLE_SECONDS = 60

HTTP_SCHEMES = ("http", "https")  # of the URLs the site and its workers fetch or link to


class Config:
    # Every typed value is read through app.environment: a bad one (RTMP_PORT=80a) stops the
    # process at start with the variable's name (create_app, gunicorn.conf.py), never later.
    # Without SECRET_KEY sessions would not survive a restart; `make run` writes one into .env.
    SECRET_KEY = os.environ.get("SECRET_KEY") or secrets.token_urlsafe(48)
    SQLALCHEMY_DATABASE_URI = database_url(
        sqlalchemy_url("DATABASE_URL", f"sqlite:///{ROOT / 'instance' / 'cascade.db'}")
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = url("REDIS_URL", "redis://127.0.0.1:6379/0", ("redis", "rediss", "unix"), host=False)
    # How long a request waits on Redis for what it can do without or do otherwise (viewer counts,
    # encoder stats, rate-limit counters): a Redis that accepts connections and never answers
    # must not hold every page. Redis answers in about a millisecond; 0.25 s is generous.
    REDIS_QUICK_TIMEOUT = number("REDIS_QUICK_TIMEOUT", 0.25)
    # Players counted per address and channel (a household or a campus behind one NAT): more
    # from one address are not counted (app.streams.viewers).
    VIEWERS_PER_ADDRESS = positive_whole_number("VIEWERS_PER_ADDRESS", 10)
    # Creator analytics (app.analytics): raw player sessions, then per-minute rollups, are deleted
    # by the hourly retention run after these many days; the daily rollups are kept for good.
    ANALYTICS_RAW_DAYS = positive_whole_number("ANALYTICS_RAW_DAYS", 90)
    ANALYTICS_MINUTE_DAYS = positive_whole_number("ANALYTICS_MINUTE_DAYS", 396)  # 13 months

    LOG_LEVEL = one_of("LOG_LEVEL", "INFO", tuple(logging.getLevelNamesMapping()), str.upper)
    SITE_NAME = os.environ.get("SITE_NAME", "Cascade Live")
    # Who runs this site, for the legal pages (app.legal): the operator's name and an address for
    # legal and privacy requests. Unset, the pages show a visible placeholder where they go.
    LEGAL_OPERATOR = os.environ.get("LEGAL_OPERATOR", "").strip()
    LEGAL_CONTACT_EMAIL = os.environ.get("LEGAL_CONTACT_EMAIL", "").strip()
    # The DMCA designated agent (17 U.S.C. §512(c)(2)) registered with the U.S. Copyright Office:
    # name, postal address, e-mail and phone, shown on /legal/dmca.
    DMCA_AGENT_NAME = os.environ.get("DMCA_AGENT_NAME", "").strip()
    DMCA_AGENT_ADDRESS = os.environ.get("DMCA_AGENT_ADDRESS", "").strip()
    DMCA_AGENT_EMAIL = os.environ.get("DMCA_AGENT_EMAIL", "").strip()
    DMCA_AGENT_PHONE = os.environ.get("DMCA_AGENT_PHONE", "").strip()
    # Trust and safety (app.safety). The instance's rules, one per line of SITE_RULES ("|" also
    # separates them); reports and actions name them. Empty keeps the defaults in app.safety.rules.
    SITE_RULES = os.environ.get("SITE_RULES", "").strip()
    REPORTS_PER_HOUR = positive_whole_number("REPORTS_PER_HOUR", 10)  # per account
    APPEAL_WINDOW_DAYS = positive_whole_number("APPEAL_WINDOW_DAYS", 183)  # about 6 months
    STRIKE_EXPIRY_DAYS = positive_whole_number("STRIKE_EXPIRY_DAYS", 90)
    # Days after a case is decided (or a DMCA notice closes) that the hourly retention run empties
    # its reports' evidence and contact e-mails (the notice's contact details): app.privacy.records.
    # Never less than APPEAL_WINDOW_DAYS, so an appeal still finds the evidence.
    SAFETY_RECORD_DAYS = positive_whole_number("SAFETY_RECORD_DAYS", 365)
    # The public host viewers and OBS reach; None means "the host the request came in on".
    PUBLIC_HOST = os.environ.get("PUBLIC_HOST") or None
    # The address nginx listens on for the site (HTTP_PORT) and RTMP (RTMP_PORT): an IP address
    # such as 127.0.0.1 (another proxy on this box in front) or one interface's; empty is every one.
    BIND_ADDRESS = os.environ.get("BIND_ADDRESS", "").strip()
    RTMP_PORT = whole_number("RTMP_PORT", 1935)
    HTTP_PORT = whole_number("HTTP_PORT", 8080)
    WEB_PORT = whole_number("WEB_PORT", 8000)
    # Loopback-only nginx server that adds the hook secret to ingest callbacks.
    HOOK_PORT = whole_number("HOOK_PORT", HTTP_PORT + 1, blank_is_default=True)
    # SRS's HTTP API, used to drop a publisher when SRS is the ingest server.
    SRS_API_URL = url("SRS_API_URL", "http://127.0.0.1:1985", HTTP_SCHEMES)
    HOOK_SECRET = os.environ.get("HOOK_SECRET") or secrets.token_urlsafe(32)
    MEDIA_ROOT = os.environ.get("MEDIA_ROOT", str(ROOT / "var" / "media"))
    # Thumbnails, uploads and recordings. "local" keeps them under STORAGE_ROOT (empty means
    # MEDIA_ROOT/objects), served by nginx at STORAGE_URL.
    STORAGE_BACKEND = one_of("STORAGE_BACKEND", "local", ("local", "s3"))
    STORAGE_ROOT = os.environ.get("STORAGE_ROOT", "")
    STORAGE_URL = os.environ.get("STORAGE_URL", "/media/")
    # "s3": objects (and live HLS, and recordings) in this bucket of an S3-compatible store
    # such as MinIO; nginx proxies the bucket, so keep the store itself off the public network.
    S3_ENDPOINT_URL = url("S3_ENDPOINT_URL", "", HTTP_SCHEMES, blank_is_default=True) or None
    S3_BUCKET = os.environ.get("S3_BUCKET", "cascade")
    S3_REGION = os.environ.get("S3_REGION", "us-east-1")
    AWS_ACCESS_KEY_ID = os.environ.get("AWS_ACCESS_KEY_ID") or None
    AWS_SECRET_ACCESS_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY") or None
    # Recordings (VODs) are deleted this many days after the broadcast; 0 keeps them. A channel
    # may set its own number of days.
    VOD_RETENTION_DAYS = whole_number("VOD_RETENTION_DAYS", 30)
    # Where live hosts pull a live stream from; {name} is the session's internal name. The
    # publish hook records each ingest server's own (nginx adds it), so this is the fallback.
    INGEST_PULL_URL = os.environ.get(
        "INGEST_PULL_URL", f"rtmp://{local_address(BIND_ADDRESS)}:{{rtmp_port}}/live/{{name}}")

    # nginx-rtmp's statistics (loopback hook server): a live host on the ingest box asks them when
    # its first pull is registered, so the publisher is let go at exactly the right moment.
    INGEST_STAT_URL = url("INGEST_STAT_URL", f"http://127.0.0.1:{HOOK_PORT}/stat", HTTP_SCHEMES,
                          blank_is_default=True)
    # The ingest server, "nginx" (nginx-rtmp) or "srs": what `flask doctor` and /readyz check (the
    # same variable is `flask nginx render --ingest`'s default).
    INGEST = one_of("INGEST", "nginx", ("nginx", "srs"), blank_is_default=True)
    # Stop on the dashboard refuses the channel's publishes this long (0: not at all), so an
    # encoder that reconnects by itself does not put it back on air; the creator can lift it.
    STOP_COOLDOWN_SECONDS = whole_number("STOP_COOLDOWN_SECONDS", 300)
    # A publisher who drops and returns within this long continues the same session; the VOD
    # job starts when it is over. Every process takes it from app.live.state.RECONNECT_GRACE.
    RECONNECT_GRACE_SECONDS = positive_whole_number("RECONNECT_GRACE_SECONDS", 30)
    # The live host of this machine (workers.live): its id (default: host name and pid), the
    # cores it may use (default: all of them), and hardware encoder sessions where a GPU encoder
    # (NVENC, Quick Sync or VAAPI) passes its trial encode.
    LIVE_HOST_ID = os.environ.get("LIVE_HOST_ID") or None
    LIVE_HOST_CORES = number("LIVE_HOST_CORES", 0, blank_is_default=True) or None
    LIVE_HW_SESSIONS = whole_number("LIVE_HW_SESSIONS", 3)
    # The share of those cores encoders may take. One box also runs the web, nginx and every
    # stream's packaging, so half; a machine that only runs live hosts can give them 0.85.
    LIVE_HOST_SHARE = number("LIVE_HOST_SHARE", 0.5)
    # A JSON cost model (app.live.capacity.CostModel) instead of measuring it at start.
    LIVE_COST_MODEL = os.environ.get("LIVE_COST_MODEL") or None
    # How far a host may raise its cost model after measuring what its ladders really use (1 to
    # trust the model as it is, say one measured on this very machine).
    LIVE_COST_CORRECTION_MAX = number("LIVE_COST_CORRECTION_MAX", 3.0)

    # Behind HTTPS the session cookies must be Secure; plain-HTTP installs set this false.
    SECURE_COOKIES = flag("SECURE_COOKIES", False)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = 60 * 60 * 24 * 30
    PREFERRED_URL_SCHEME = "https" if SECURE_COOKIES else "http"
    # Trust X-Forwarded-* from this many proxies (nginx in front counts as one).
    PROXY_COUNT = whole_number("PROXY_COUNT", 1)

    WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the session
    # One size limit for every picture upload (avatar, banner, background, channel thumbnail),
    # in MB; request bodies may be a megabyte larger, here and in nginx (request_body_limit).
    PICTURE_MAX_MB = whole_number("PICTURE_MAX_MB", 20)
    MAX_CONTENT_LENGTH = request_body_limit(PICTURE_MAX_MB)
    # Picture uploads allowed per account (decoding one can take a core for a second).
    UPLOAD_RATE_LIMIT = rate_limits("UPLOAD_RATE_LIMIT", "10 per minute;60 per hour")

    RATELIMIT_ENABLED = flag("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or REDIS_URL
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "cascade-limits")
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_STORAGE_OPTIONS = {"socket_timeout": REDIS_QUICK_TIMEOUT,
                                 "socket_connect_timeout": REDIS_QUICK_TIMEOUT}
    # With Redis away the limits are counted in each web process's memory until Flask-Limiter
    # finds Redis again (it looks after 1, 2, 4 ... 32 s). Login and signup stay throttled, only
    # per process (N processes allow N times the attempts): failing open would switch the
    # brute-force guard off whenever Redis is unreachable, and refusing every login would lock
    # everybody out for a Redis problem.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    # Whatever still fails in the limiter (a race with the switch to memory) lets that one
    # request through, logged, rather than answering it 500.
    RATELIMIT_SWALLOW_ERRORS = True
    # Failed logins per address and per account (a browser that logged in to the account before
    # is spared the per-account count), and wrong current passwords in settings per account.
    LOGIN_RATE_LIMIT = rate_limits("LOGIN_RATE_LIMIT", "5 per minute;30 per hour")
    # Accounts made per address: a meetup or a school behind one address all sign up, a script
    # does not. Signup forms sent back with errors are not counted here, only in the attempts.
    SIGNUP_RATE_LIMIT = rate_limits("SIGNUP_RATE_LIMIT", "25 per hour;60 per day")
    SIGNUP_ATTEMPT_RATE_LIMIT = rate_limits("SIGNUP_ATTEMPT_RATE_LIMIT", "100 per hour")
    # Words only staff may show in a username or display name, in any spelling that looks like
    # them (Unicode confusables); SITE_NAME is always one of them. Comma-separated.
    STAFF_WORDS = os.environ.get(
        "STAFF_WORDS", "admin,administrator,staff,moderator,mod,streamer,system,support")

    MIN_SIGNUP_AGE = 13
    # Privacy rights (app.privacy, app.auth.deletion); the privacy page states all three. A data
    # export's download link works, and its ZIP is kept, this many days; a member may ask for one
    # export per DATA_EXPORT_INTERVAL_DAYS; a deleted account can be restored (by signing in)
    # for ERASURE_GRACE_DAYS, then everything personal is purged by the hourly retention run.
    DATA_EXPORT_LINK_DAYS = positive_whole_number("DATA_EXPORT_LINK_DAYS", 7)
    DATA_EXPORT_INTERVAL_DAYS = whole_number("DATA_EXPORT_INTERVAL_DAYS", 7)
    ERASURE_GRACE_DAYS = whole_number("ERASURE_GRACE_DAYS", 30)
    # Redis pub/sub channel of the Socket.IO message queue (default: named after the Redis database).
    SOCKETIO_CHANNEL = os.environ.get("SOCKETIO_CHANNEL") or None

    # Chat pacing for viewers (owners, moderators and admins are exempt): a token bucket of
    # CHAT_BURST messages refilled at CHAT_MESSAGES_PER_SECOND, per user per channel.
    CHAT_BURST = number("CHAT_BURST", 5.0)
    CHAT_MESSAGES_PER_SECOND = number("CHAT_MESSAGES_PER_SECOND", 0.5)
    # Anonymous (read-only) socket connects allowed per address per minute; addresses in
    # CHAT_CONNECT_EXEMPT (comma-separated networks, loopback by default) are not counted.
    CHAT_ANON_CONNECTS_PER_MINUTE = whole_number("CHAT_ANON_CONNECTS_PER_MINUTE", 30)
    CHAT_CONNECT_EXEMPT = networks("CHAT_CONNECT_EXEMPT", "127.0.0.0/8,::1/128")
    # "package.module:function" scoring a message 0..1 for automod; default: a local lexicon.
    CHAT_TOXICITY_SCORER = os.environ.get("CHAT_TOXICITY_SCORER") or None
    RQ_QUEUE = os.environ.get("RQ_QUEUE", "cascade")

    # GET /metrics (Prometheus, app.metrics): answered to addresses in METRICS_ALLOW (comma-separated
    # networks, loopback by default; set but empty: none) and to requests carrying
    # "Authorization: Bearer <METRICS_TOKEN>" (unset: no token opens it).
    METRICS_ALLOW = networks("METRICS_ALLOW", "127.0.0.0/8,::1/128")
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None
    # nginx's connection and request counters (stub_status on the loopback hook server), read at
    # each scrape of /metrics with nginx-rtmp's statistics (INGEST_STAT_URL).
    NGINX_STATUS_URL = url("NGINX_STATUS_URL", f"http://127.0.0.1:{HOOK_PORT}/nginx-status", HTTP_SCHEMES,
                           blank_is_default=True)

    # Outgoing mail (password resets, address verification), sent by the RQ worker over SMTP.
    # Without MAIL_SERVER nothing is sent: the worker logs that mail is not configured.
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "").strip()
    MAIL_PORT = whole_number("MAIL_PORT", 0, blank_is_default=True)  # 0: 465 with MAIL_USE_SSL, else 587/25
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_USE_TLS = flag("MAIL_USE_TLS", False)  # STARTTLS on a plain connection
    MAIL_USE_SSL = flag("MAIL_USE_SSL", False)  # TLS from the first byte (port 465)
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "").strip()
    MAIL_TIMEOUT = number("MAIL_TIMEOUT", 10.0)
    # true: build mails but never send them (staging copies of a production database).
    MAIL_SUPPRESS = flag("MAIL_SUPPRESS", False)
    # The site's address in the links mails carry, e.g. https://live.example.org. Empty: the
    # address the request came in on, which a forged Host header can change, so set it.
    MAIL_SITE_URL = url("MAIL_SITE_URL", "", HTTP_SCHEMES, blank_is_default=True).rstrip("/")

    def __init__(self) -> None:
        self.SESSION_COOKIE_SECURE = self.SECURE_COOKIES
        self.REMEMBER_COOKIE_SECURE = self.SECURE_COOKIES
