"""Renders media/nginx.conf.j2, the box's nginx (RTMP ingest, HLS, static files, app proxy)."""
from __future__ import annotations

import grp
import ipaddress
import os
import pwd
import re
import resource
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import jinja2
from flask import current_app
from flask.cli import with_appcontext

from ..config import UPSTREAM_IDLE_SECONDS, Config, request_body_limit
from ..logs import TOKEN_PATHS
from ..mature import MATURE_COOKIE
from ..storage.atomic import write_atomic

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATE_DIR = ROOT / "media"
TEMPLATE_NAME = "nginx.conf.j2"
RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
WORKER_USER = "www-data"

INGESTS = ("nginx", "srs")

DEFAULTS: dict[str, Any] = {
    "ingest": "nginx",
    "srs_api_port": 1985,
    "module_path": RTMP_MODULE,
    "user": None,
    "group": None,
    "rtmp_host": "",
    "rtmp_port": 1935,
    "http_host": "",
    "http_port": 8080,
    "web_port": 8000,
    "play_allow": ["127.0.0.1"],
    # The same as the app's MAX_CONTENT_LENGTH: a larger body gets the app's message (error_page 413).
    "client_max_body_size": request_body_limit(Config.PICTURE_MAX_MB),
    "worker_connections": 4096,
    "worker_rlimit_nofile": 10240,
    "storage_backend": "local",
    "s3_endpoint_url": None,
    "s3_bucket": None,
    "s3_region": None,
    "s3_cache_max_size": "2g",
    # The cookies a mature channel's playlist check reads (app.mature.gate): Flask's and
    # Flask-Login's defaults, and the pass.
    "session_cookie": "session",
    "remember_cookie": "remember_token",
    "mature_cookie": MATURE_COOKIE,
}
STORAGE_BACKENDS = ("local", "s3")
# What S3 (AWS, MinIO) says about itself and the object that a viewer has no use for. nginx
# cannot hide headers by prefix, so these are the ones the stores we know send.
S3_HIDDEN_HEADERS = (
    "x-amz-request-id", "x-amz-id-2", "x-amz-version-id", "x-amz-delete-marker",
    "x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-bucket-key-enabled", "x-amz-storage-class",
    "x-amz-bucket-region", "x-amz-expiration", "x-amz-restore", "x-amz-replication-status",
    "x-amz-website-redirect-location", "x-amz-tagging-count", "x-amz-mp-parts-count",
    "x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold", "x-amz-checksum-crc32", "x-amz-checksum-crc32c",
    "x-amz-checksum-sha1", "x-amz-checksum-sha256", "x-amz-checksum-crc64nvme",
    "x-amz-checksum-type", "x-amz-sdk-checksum-algorithm", "x-amz-content-sha256", "x-amz-date",
    "x-amzn-requestid", "x-minio-deployment-id", "x-ratelimit-limit", "x-ratelimit-remaining",
    "x-xss-protection", "strict-transport-security", "content-security-policy",
    "content-disposition", "access-control-allow-origin", "access-control-allow-credentials",
    "access-control-expose-headers", "access-control-allow-methods",
)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_HOST = re.compile(r"^[A-Za-z0-9.-]+$")
_CACHE_SIZE = re.compile(r"^[0-9]+[kmg]?$")
# Each proxied chat WebSocket holds two nginx connections (viewer and upstream), so 10,000 chat
# viewers need 20,000 and more. nginx's worker sets its own descriptor limit (both soft and
# hard) to worker_rlimit_nofile, which may not exceed the hard limit it inherits unless it
# runs as a root with CAP_SYS_RESOURCE: ask for the inherited hard limit, up to this.
MAX_OPEN_FILES = 65536
# Descriptors that are not connections: log files, files being served, the pid file.
SPARE_FILES = 512
REQUIRED = ("prefix", "hook_secret", "static_root", "media_root")

# Characters nginx would read as syntax or as a variable reference inside a quoted argument.
_UNSAFE = re.compile(r'[\s"\'\\;{}$#]')
_COOKIE_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_SECRET = re.compile(r"^[A-Za-z0-9._~+/=-]{16,}$")


def _quoted(value: object) -> str:
    text = str(value)
    if not text or _UNSAFE.search(text):
        raise ValueError(f"cannot put {text!r} in the nginx config: it is empty or holds "
                         "whitespace, quotes, ';', '{', '}', '#', '$' or a backslash")
    return f'"{text}"'


def _listen(host: str, port: int) -> str:
    """A `listen` address: the port alone for every interface, else an IP address and the port."""
    port = int(port)
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range")
    if not host:
        return str(port)
    try:
        address = ipaddress.ip_address(str(host).strip("[]"))
    except ValueError:
        raise ValueError(f"BIND_ADDRESS must be an IP address (or empty for every interface), "
                         f"not {host!r}") from None
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


def s3_upstream(endpoint_url: str | None, region: str | None) -> dict[str, Any]:
    """How nginx reaches the bucket's endpoint: scheme, `host:port` for the upstream block, the
    Host header (what boto3 signs, so signed URLs match) and the TLS name.

    Raises ValueError, saying what is wrong, for anything but `http(s)://host[:port]`.
    """
    url = endpoint_url or f"https://s3.{region or 'us-east-1'}.amazonaws.com"
    example = "use scheme, host and port only, e.g. http://127.0.0.1:9000"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(f"S3_ENDPOINT_URL is not a URL nginx can proxy to: {example}") from None
    if parts.username is not None or parts.password is not None:
        # Never echo it: the user part may be a credential.
        raise ValueError(f"S3_ENDPOINT_URL must not hold a user name or password ({example}); "
                         "nginx reads the bucket without credentials")
    host = parts.hostname or ""
    ipv6 = ":" in host
    if ipv6:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            host = ""
    if (parts.scheme not in ("http", "https") or not host or parts.path not in ("", "/")
            or parts.query or parts.fragment or not (ipv6 or _HOST.match(host))
            or _UNSAFE.search(url)):
        raise ValueError(f"S3_ENDPOINT_URL {url!r} is not a URL nginx can proxy to: {example}")
    default_port = 443 if parts.scheme == "https" else 80
    name = f"[{host}]" if ipv6 else host
    return {
        "s3_scheme": parts.scheme,
        "s3_server": f"{name}:{port or default_port}",
        # boto3 signs the host without the scheme's default port, as browsers send it.
        "s3_host": name if port in (None, default_port) else f"{name}:{port}",
        "s3_tls_name": host,
    }


def _storage_values(values: dict[str, Any]) -> dict[str, Any]:
    backend = values["storage_backend"]
    if backend not in STORAGE_BACKENDS:
        raise ValueError(f"STORAGE_BACKEND must be one of {', '.join(STORAGE_BACKENDS)}, not {backend!r}")
    if backend != "s3":
        return {}
    bucket = str(values.get("s3_bucket") or "")
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise ValueError(f"S3_BUCKET {bucket!r} is not a bucket name: 3 to 63 lower-case letters, "
                         "digits, '.' and '-', starting and ending with a letter or digit")
    if not _CACHE_SIZE.match(str(values["s3_cache_max_size"])):
        raise ValueError(f"the object cache size {values['s3_cache_max_size']!r} is not a size like 2g")
    return {**s3_upstream(values.get("s3_endpoint_url"), values.get("s3_region")),
            "s3_hidden_headers": S3_HIDDEN_HEADERS}


def render_nginx_conf(settings: dict[str, Any]) -> str:
    """The nginx config text for `settings` (see DEFAULTS and REQUIRED for the keys).

    Pure: reads the template, touches nothing else. Paths should be absolute.
    """
    values = {**DEFAULTS, **settings}
    missing = [key for key in REQUIRED if not values.get(key)]
    if missing:
        raise ValueError(f"nginx settings missing: {', '.join(missing)}")
    if not _SECRET.match(str(values["hook_secret"])):
        raise ValueError("HOOK_SECRET must be at least 16 characters of A-Z a-z 0-9 . _ ~ + / = -")
    if values["ingest"] not in INGESTS:
        raise ValueError(f"ingest must be one of {', '.join(INGESTS)}, not {values['ingest']!r}")
    prefix = str(values["prefix"])
    values.setdefault("hook_port", int(values["http_port"]) + 1)
    values.setdefault("upstream_idle_seconds", UPSTREAM_IDLE_SECONDS)
    values.setdefault("notify_update_seconds", 5)
    values["token_paths"] = "|".join(re.escape(path.strip("/")) for path in TOKEN_PATHS)
    values.setdefault("ingest_pull_prefix", None)  # then live hosts pull from INGEST_PULL_URL
    values.setdefault("pid_path", f"{prefix}/nginx.pid")
    values.setdefault("error_log", "stderr")
    values.setdefault("log_dir", f"{prefix}/logs")
    values.setdefault("temp_dir", f"{prefix}/tmp")
    values.setdefault("cache_dir", f"{prefix}/cache")
    values.setdefault("hls_access_cache_dir", f"{prefix}/cache-hls-access")
    values.update(_storage_values(values))
    values.setdefault("hls_root", f"{str(values['media_root']).rstrip('/')}/hls")
    values["storage_root"] = values.get("storage_root") or f"{str(values['media_root']).rstrip('/')}/objects"
    values["storage_root"] = str(values["storage_root"]).rstrip("/")
    values["static_root"] = str(values["static_root"]).rstrip("/")
    values["hls_root"] = str(values["hls_root"]).rstrip("/")
    for name in ("session_cookie", "remember_cookie", "mature_cookie"):
        if not _COOKIE_NAME.match(str(values[name])):
            raise ValueError(f"{name} {values[name]!r} is not a cookie name nginx can read: A-Z a-z 0-9 _")
    if values["user"] and not values["group"]:
        values["group"] = values["user"]
    names = ["http_port", "hook_port", "web_port"]
    names.append("rtmp_port" if values["ingest"] == "nginx" else "srs_api_port")
    ports = [int(values[name]) for name in names]
    if len(set(ports)) != len(ports):
        raise ValueError(f"the {', '.join(names)} must differ, got {ports}")

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # nginx syntax, not HTML; values are checked by the `q` filter
    )
    env.filters["q"] = _quoted
    env.globals["listen"] = _listen
    return env.get_template(TEMPLATE_NAME).render(**values)


def _reachable_by(path: Path, user: pwd.struct_passwd) -> bool:
    """Whether `user` may traverse every directory down to `path` (and read it)."""
    groups = {user.pw_gid} | {g.gr_gid for g in _groups_of(user.pw_name)}
    chain = [path, *path.parents]
    for index, directory in enumerate(chain):
        try:
            st = directory.stat()
        except FileNotFoundError:
            continue  # created later by us or nginx, with a world-readable mode
        need = stat.S_IXOTH | (stat.S_IROTH if index == 0 else 0)
        if st.st_uid == user.pw_uid:
            need <<= 6
        elif st.st_gid in groups:
            need <<= 3
        if st.st_mode & need != need:
            return False
    return True


def _groups_of(name: str) -> list[grp.struct_group]:
    return [g for g in grp.getgrall() if name in g.gr_mem]


def worker_user(paths: list[Path]) -> str | None:
    """Who nginx's workers should run as.

    Not root: nginx ignores `user`, so none. Root: www-data, unless it cannot reach the files
    nginx serves (a checkout under a private home such as /root), then root itself.
    """
    if os.geteuid() != 0:
        return None
    try:
        account = pwd.getpwnam(WORKER_USER)
    except KeyError:
        return "root"
    if all(_reachable_by(p, account) for p in paths):
        return WORKER_USER
    return "root"


def connection_limits() -> dict[str, int]:
    """worker_rlimit_nofile and worker_connections for the descriptor limit nginx inherits."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    files = MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, MAX_OPEN_FILES)
    return {"worker_rlimit_nofile": files,
            "worker_connections": max(files - SPARE_FILES, files // 2)}


def settings_from_config(config: Mapping[str, Any], prefix: Path | None = None) -> dict[str, Any]:
    """nginx settings for a Flask config (the app's ports, media root, hook secret)."""
    root = Path(config.get("ROOT") or ROOT)
    prefix = Path(prefix or root / "var" / "nginx").resolve()
    media_root = Path(config["MEDIA_ROOT"])
    if not media_root.is_absolute():
        media_root = root / media_root
    http_port = int(config["HTTP_PORT"])
    hook_port = config.get("HOOK_PORT") or os.environ.get("HOOK_PORT") or http_port + 1
    static_root = root / "app" / "static"
    user = worker_user([static_root, media_root.resolve(), prefix])
    return {
        "prefix": str(prefix),
        "user": user,
        # The public listeners; the hook server stays on loopback whatever this says.
        "rtmp_host": config.get("BIND_ADDRESS") or "",
        "http_host": config.get("BIND_ADDRESS") or "",
        "rtmp_port": int(config["RTMP_PORT"]),
        "http_port": http_port,
        "hook_port": int(hook_port),
        "web_port": int(config["WEB_PORT"]),
        "hook_secret": config["HOOK_SECRET"],
        "client_max_body_size": request_body_limit(config.get("PICTURE_MAX_MB", Config.PICTURE_MAX_MB)),
        # Live hosts pull a stream from the ingest server that holds it: this one's address (up
        # to the stream name) reaches the publish hook with every publish.
        "ingest_pull_prefix": _pull_prefix(config),
        "static_root": str(static_root),
        "media_root": str(media_root.resolve()),
        "storage_root": str(_storage_root(config, root, media_root)),
        # Where objects are and how nginx reaches them; never the store's keys (nginx reads the
        # bucket's public prefixes anonymously and VODs through URLs the app signs).
        "storage_backend": config.get("STORAGE_BACKEND") or "local",
        "s3_endpoint_url": config.get("S3_ENDPOINT_URL"),
        "s3_bucket": config.get("S3_BUCKET"),
        "s3_region": config.get("S3_REGION"),
        "session_cookie": config.get("SESSION_COOKIE_NAME") or "session",
        "remember_cookie": config.get("REMEMBER_COOKIE_NAME") or "remember_token",
        **connection_limits(),
    }


def _pull_prefix(config: Mapping[str, Any]) -> str | None:
    template = str(config.get("INGEST_PULL_URL") or "rtmp://127.0.0.1:{rtmp_port}/live/{name}")
    template = template.replace("{rtmp_port}", str(int(config["RTMP_PORT"])))
    prefix, found, rest = template.partition("{name}")
    return prefix if found and not rest and "{" not in prefix else None


def _storage_root(config: Mapping[str, Any], root: Path, media_root: Path) -> Path:
    """Where the local storage backend keeps objects (nginx serves them at /media/)."""
    configured = config.get("STORAGE_ROOT")
    if not configured:
        return (media_root / "objects").resolve()
    path = Path(configured)
    return (path if path.is_absolute() else root / path).resolve()


def prepare_dirs(settings: dict[str, Any]) -> None:
    """Make the directories the rendered config names (nginx makes only the last level)."""
    prefix = Path(settings["prefix"])
    media_root = Path(settings["media_root"])
    storage = Path(settings.get("storage_root") or media_root / "objects")
    for directory in (prefix, prefix / "logs", prefix / "tmp", media_root, media_root / "hls", storage):
        directory.mkdir(parents=True, exist_ok=True)


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically with mode 0600 (the config holds the hook secret)."""
    write_atomic(path, text.encode(), mode=0o600)


@click.group("nginx", help="The box's nginx: RTMP ingest, HLS and static files, app proxy.")
def nginx_cli() -> None:
    pass


@nginx_cli.command("render")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the config (default var/nginx/nginx.conf).")
@click.option("--ingest", type=click.Choice(INGESTS), envvar="INGEST", default="nginx",
              show_default=True,
              help="Who takes RTMP: nginx-rtmp here, or SRS (media/srs.conf) with no rtmp block.")
@click.option("--prefix", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="nginx prefix for pid, logs and temp files (default var/nginx).")
@with_appcontext
def render_command(output: Path | None, ingest: str, prefix: Path | None) -> None:
    """Render media/nginx.conf.j2 from the app's settings, mode 0600."""
    if not os.environ.get("HOOK_SECRET") and not current_app.config.get("TESTING"):
        # Config falls back to a random per-process secret, which the web process would not share.
        raise click.ClickException("HOOK_SECRET is not set; put it in .env (`make run` writes one).")
    settings = settings_from_config(current_app.config, prefix)
    settings["ingest"] = ingest
    try:
        text = render_nginx_conf(settings)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    prepare_dirs(settings)
    output = (output or Path(settings["prefix"]) / "nginx.conf").resolve()
    write_private(output, text)
    click.echo(f"nginx config written to {output} (workers run as {settings['user'] or 'this user'})")
