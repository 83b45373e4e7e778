"""render_nginx_conf on its own: what it refuses and what each ingest mode contains (no processes)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from app.deploy.nginx import render_nginx_conf

SECRET = "s3cret-Token_value.123456"


def settings(tmp_path, **overrides) -> dict:
    base = {
        "prefix": str(tmp_path / "nginx"),
        "hook_secret": SECRET,
        "static_root": str(tmp_path / "static"),
        "media_root": str(tmp_path / "media"),
    }
    return {**base, **overrides}


def test_nginx_ingest_has_rtmp_with_hooks_on_the_loopback_hook_server(tmp_path):
    text = render_nginx_conf(settings(tmp_path, http_port=9000))
    assert "load_module" in text and "rtmp {" in text
    assert "on_publish http://127.0.0.1:9001/hooks/rtmp/publish;" in text
    assert "on_publish_done http://127.0.0.1:9001/hooks/rtmp/publish_done;" in text
    assert "listen 127.0.0.1:9001;" in text
    assert "rtmp_control all;" in text
    assert "deny play all;" in text
    assert text.count(SECRET) == 1  # only in the header the hook server adds
    log_format = next(line for line in text.splitlines() if "log_format" in line)
    assert "$name" not in log_format and "$args" not in log_format and "$tcurl" not in log_format


def test_srs_ingest_has_no_rtmp_block_but_keeps_the_hook_server(tmp_path):
    text = render_nginx_conf(settings(tmp_path, ingest="srs"))
    assert "rtmp {" not in text and "load_module" not in text and "rtmp_control" not in text
    assert "location /rtc/v1/whip/" in text
    assert f'X-Hook-Secret "{SECRET}"' in text


@pytest.mark.parametrize("secret", ["short", "has$variable-and-long-enough", 'quo"te-and-long-enough',
                                    "semi;colon-and-long-enough", "white space and long enough"])
def test_secrets_nginx_would_misread_are_refused(tmp_path, secret):
    with pytest.raises(ValueError, match="HOOK_SECRET"):
        render_nginx_conf(settings(tmp_path, hook_secret=secret))


def test_paths_nginx_would_misread_are_refused(tmp_path):
    with pytest.raises(ValueError, match="cannot put"):
        render_nginx_conf(settings(tmp_path, static_root="/srv/static; evil"))


def test_clashing_ports_are_refused(tmp_path):
    with pytest.raises(ValueError, match="must differ"):
        render_nginx_conf(settings(tmp_path, http_port=8000, web_port=8000))


def test_missing_settings_are_named(tmp_path):
    with pytest.raises(ValueError, match="hook_secret"):
        render_nginx_conf(settings(tmp_path, hook_secret=""))


@pytest.mark.parametrize("ingest, storage", [("nginx", "local"), ("srs", "local"), ("nginx", "s3")])
def test_every_mode_passes_nginx_t(tmp_path, ingest, storage):
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        pytest.skip("nginx is not installed")
    conf_settings = (s3_settings if storage == "s3" else settings)(tmp_path, ingest=ingest)
    for sub in ("nginx/logs", "nginx/tmp", "static", "media/hls"):
        (tmp_path / sub).mkdir(parents=True, exist_ok=True)
    conf = tmp_path / "nginx" / "nginx.conf"
    conf.write_text(render_nginx_conf(conf_settings))
    result = subprocess.run([nginx, "-t", "-p", conf_settings["prefix"], "-c", str(conf), "-e", "stderr"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def test_media_location_serves_the_storage_root(tmp_path):
    text = render_nginx_conf(settings(tmp_path))
    assert "location /media/ {" in text
    assert f'alias "{tmp_path}/media/objects/";' in text
    custom = render_nginx_conf(settings(tmp_path, storage_root=str(tmp_path / "objects")))
    assert f'alias "{tmp_path}/objects/";' in custom


def test_media_playlists_go_to_the_app(tmp_path):
    """Files stay nginx's; only media playlists (held for a part: app.hls.services) and missing
    files reach the app (tests/e2e/test_hls_blocking.py proves the routing on a running nginx)."""
    text = render_nginx_conf(settings(tmp_path))
    hls = text.split("location /hls/ {", 1)[1].split("}\n", 2)
    assert "error_page 418 = @hls_app;" in text and "error_page 404 = @hls_app;" in text
    assert "error_page 419 = @hls_fresh;" in hls[0]
    assert ("if ($cascade_hls_media_playlist = 2) {\n                return 418;\n            }\n"
            "            if ($cascade_hls_media_playlist = 1) {\n                return 419;") in text
    media_playlists = text.split('map "$uri?$args" $cascade_hls_media_playlist {', 1)[1].split("}", 1)[0]
    assert "volatile;" in media_playlists  # read again after @hls_file's rewrite
    # First match wins: sent back by @hls_file, a reload with directives, then any other.
    order = [media_playlists.index(mark) for mark in ("cascade_file=1", "_HLS_(msn|part|skip)=", '\\?" 1;')]
    assert order == sorted(order)
    # A plain media playlist waits a second for the app at most, then comes from the disk;
    # a reload with directives waits for the app.
    fresh = location(text, "location @hls_fresh")
    for directive in ("proxy_read_timeout 800ms;", "proxy_connect_timeout 1s;", "error_page 502 504 = @hls_file;"):
        assert has(fresh, directive), directive
    assert "error_page" not in location(text, "location @hls_app")
    assert "recursive_error_pages on;" in hls[0]  # where the request's first error_page is
    fallback = directives(location(text, "location @hls_file"))
    assert fallback[:2] == ["if ($arg_cascade_file) {", "return 502;"]
    assert fallback[2].startswith("rewrite ") and fallback[2].endswith("$1?cascade_file=1 last;")
    assert "proxy_pass" not in hls[0]  # only `return` inside the location's `if`
    # The app gets the request as the viewer sent it, whatever a location rewrote on the way.
    assert "location @hls_app {\n            proxy_pass http://cascade_web$request_uri;" in text


# --- storage: the local directory or an S3 bucket, and VOD access -----------------------------

S3_SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


def s3_settings(tmp_path, **overrides) -> dict:
    return settings(tmp_path, **{"storage_backend": "s3", "s3_endpoint_url": "http://127.0.0.1:9000",
                                 "s3_bucket": "cascade", **overrides})


def location(text: str, head: str, indent: int = 8) -> str:
    """The body of the location block that starts with `head` (one nested in another: `indent` 12)."""
    start = text.index(" " * indent + head + " {\n") + indent + len(head) + 3
    return text[start:text.index("\n" + " " * indent + "}\n", start)]


def directives(block: str) -> list[str]:
    """A block's directives, one string each, without comments or extra spaces."""
    lines = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    found = re.split(r"(?<=[;{}])", " ".join(line for line in lines if line))
    return [part.strip() for part in found if part.strip() not in ("", "}")]


def has(block: str, directive: str) -> bool:
    return any(" ".join(line.split()) == directive for line in directives(block))


def test_s3_media_is_proxied_to_the_bucket_with_a_cache_and_nothing_of_the_viewer(tmp_path):
    text = render_nginx_conf(s3_settings(tmp_path))
    assert "upstream cascade_s3 {\n        server 127.0.0.1:9000;" in text
    assert "keys_zone=cascade_objects:" in text and f'proxy_cache_path "{tmp_path}/nginx/cache"' in text
    media = location(text, "location /media/")
    assert "alias" not in media
    for directive in ("proxy_pass http://cascade_s3/cascade/;", 'proxy_set_header Host "127.0.0.1:9000";',
                      "proxy_pass_request_headers off;", "proxy_intercept_errors on;",
                      "proxy_cache cascade_objects;", "proxy_cache_valid 200 60s;",
                      "proxy_hide_header x-amz-request-id;", "proxy_hide_header x-amz-id-2;",
                      "proxy_hide_header Set-Cookie;", "error_page 403 404 = @cascade_missing;",
                      'add_header Cache-Control "public, max-age=60" always;', 'set $args "";'):
        assert has(media, directive), directive
    # Cookies and Authorization never go upstream: only Host is set, everything else dropped.
    assert not any(line.startswith(("proxy_set_header Cookie", "proxy_set_header Authorization "))
                   and not line.endswith('"";') for line in directives(media))
    assert has(location(text, "location @cascade_missing"), "return 404;")


BUCKET_FAILS_TO_APP = "error_page 403 404 418 500 502 503 504 = @hls_app;"


def test_s3_hls_serves_this_hosts_media_from_disk_and_the_rest_from_the_bucket(tmp_path):
    """Media a live host here writes from disk, other hosts' from the bucket (cached); playlists
    from the bucket, never cached; directives and whatever the bucket cannot give to the app."""
    text = render_nginx_conf(s3_settings(tmp_path))
    hls = location(text, "location /hls/")
    assert directives(hls)[0] == f'alias "{tmp_path}/media/hls/";'
    assert has(hls, "try_files $uri @hls_bucket;") and "proxy_pass" not in hls.split("location ~")[0]
    playlists = location(text, "location ~ \\.m3u8$", indent=12)
    bucket = location(text, "location @hls_bucket")
    for block in (playlists, bucket):
        for directive in (BUCKET_FAILS_TO_APP, 'rewrite "(?s)^/hls/(.*)$" /cascade/hls/$1? break;',
                          "proxy_pass http://cascade_s3;", "proxy_pass_request_headers off;",
                          "add_header Cache-Control $cascade_hls_cache always;",
                          (f'access_log "{tmp_path}/nginx/logs/hls.log" cascade_hls buffer=32k flush=5s '
                           "if=$cascade_cmcd;")):
            assert has(block, directive), directive
    assert "proxy_cache" not in playlists
    for directive in ("proxy_cache cascade_objects;", "proxy_cache_lock on;", "proxy_cache_valid 200 10m;"):
        assert has(bucket, directive), directive
    # The media playlist tests come before the query is dropped, so the app still sees _HLS_msn.
    assert directives(playlists)[:4] == ["if ($cascade_hls_media_playlist = 2) {", "return 418;",
                                         "if ($cascade_hls_media_playlist = 1) {", "return 419;"]
    assert has(playlists, "error_page 419 = @hls_fresh;")
    # A file missing beside a playlist written here is not in the bucket either: straight to the app.
    assert directives(bucket)[:2] == ["if (-f $cascade_hls_playlist_here) {", "return 418;"]
    playlist_here = text.split("map $uri $cascade_hls_playlist_here {", 1)[1].split("}", 1)[0]
    assert f'"{tmp_path}/media/hls/$cascade_stream/$cascade_rung/index.m3u8"' in playlist_here


def test_s3_hls_never_waits_long_on_a_store_that_does_not_answer(tmp_path):
    """A blackholed store (connections accepted, nothing said) costs a viewer 2 s, then the app
    answers from this host's disk; nginx's defaults would hold every request 60 s."""
    text = render_nginx_conf(s3_settings(tmp_path))
    for block in (location(text, "location ~ \\.m3u8$", indent=12), location(text, "location @hls_bucket")):
        for directive in ("proxy_connect_timeout 2s;", "proxy_read_timeout 2s;", "proxy_send_timeout 2s;",
                          BUCKET_FAILS_TO_APP, "proxy_intercept_errors on;"):
            assert has(block, directive), directive
        assert "proxy_next_upstream" not in block  # one server: a timeout is final already
    # Pictures beside the player: a short wait, then what the cache holds.
    media = location(text, "location /media/")
    for directive in ("proxy_connect_timeout 2s;", "proxy_read_timeout 5s;",
                      "proxy_cache_use_stale error timeout http_500 http_502 http_503 http_504;"):
        assert has(media, directive), directive


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_vods_ask_the_app_first_and_media_never_serves_them(tmp_path, backend):
    text = render_nginx_conf(s3_settings(tmp_path) if backend == "s3" else settings(tmp_path))
    vods = location(text, "location /vods/")
    assert directives(vods)[0] == "auth_request /_auth/vod;"
    assert has(vods, "error_page 403 404 = @cascade_missing;")
    assert has(vods, 'add_header Cache-Control "private" always;')
    auth = location(text, "location = /_auth/vod")
    for directive in ("internal;", "proxy_pass http://cascade_web/internal/vod-access;",
                      "proxy_pass_request_body off;", 'proxy_set_header Content-Length "";',
                      "proxy_set_header X-Original-URI $request_uri;", "proxy_set_header Host $http_host;"):
        assert has(auth, directive), directive
    assert "proxy_pass_request_headers off" not in auth  # the viewer's cookies go to the app
    assert directives(location(text, "location /media/vods/")) == ["return 404;"]
    assert directives(location(text, "location /internal/")) == ["return 404;"]
    if backend == "local":
        assert has(vods, f'alias "{tmp_path}/media/objects/vods/";')
        assert "cascade_s3" not in text and "cascade_objects" not in text
    else:
        assert has(vods, "auth_request_set $cascade_vod_source $upstream_http_x_vod_source;")
        assert has(vods, "proxy_pass http://cascade_s3$cascade_vod_source;")
        assert has(vods, "proxy_cache_key $uri;")
        download = location(text, "location ~ ^/vods/[0-9]+/video\\.mp4$")
        assert directives(download)[0] == "auth_request /_auth/vod;"
        assert has(download, "proxy_set_header Range $http_range;") and "proxy_cache " not in download


def test_local_backend_still_serves_files_from_disk(tmp_path):
    text = render_nginx_conf(settings(tmp_path))
    assert has(location(text, "location /hls/"), f'alias "{tmp_path}/media/hls/";')
    assert has(location(text, "location /media/"), f'alias "{tmp_path}/media/objects/";')
    assert "cascade_s3" not in text


def test_https_endpoints_get_tls_with_the_right_name_and_default_port(tmp_path):
    text = render_nginx_conf(s3_settings(tmp_path, s3_endpoint_url="https://objects.example.org"))
    assert "server objects.example.org:443;" in text
    media = location(text, "location /media/")
    assert has(media, "proxy_pass https://cascade_s3/cascade/;")
    assert has(media, 'proxy_set_header Host "objects.example.org";')
    assert has(media, 'proxy_ssl_name "objects.example.org";') and has(media, "proxy_ssl_server_name on;")
    aws = render_nginx_conf(s3_settings(tmp_path, s3_endpoint_url=None, s3_region="eu-west-1"))
    assert "server s3.eu-west-1.amazonaws.com:443;" in aws
    ipv6 = render_nginx_conf(s3_settings(tmp_path, s3_endpoint_url="http://[::1]:9000/"))
    assert "server [::1]:9000;" in ipv6


@pytest.mark.parametrize("url", ["127.0.0.1:9000", "ftp://127.0.0.1", "http://127.0.0.1:9000/minio",
                                 "http://127.0.0.1:99999", "http://host name:9000", "http://[nope]:9000",
                                 "http://127.0.0.1:9000/?x=1", "http://a;b:9000", "http://$host:9000"])
def test_bad_endpoint_urls_are_refused_with_the_reason(tmp_path, url):
    with pytest.raises(ValueError, match="S3_ENDPOINT_URL .*e.g. http://127.0.0.1:9000"):
        render_nginx_conf(s3_settings(tmp_path, s3_endpoint_url=url))


def test_endpoint_credentials_are_refused_without_being_echoed(tmp_path):
    with pytest.raises(ValueError, match="user name or password") as refusal:
        render_nginx_conf(s3_settings(tmp_path, s3_endpoint_url=f"http://minio:{S3_SECRET}@127.0.0.1:9000"))
    assert S3_SECRET not in str(refusal.value)


@pytest.mark.parametrize("bucket", ["", "ab", "Cascade", "my_bucket", "-cascade", "a" * 64, "a..b", "ca;de"])
def test_bad_bucket_names_are_refused(tmp_path, bucket):
    with pytest.raises(ValueError, match="S3_BUCKET"):
        render_nginx_conf(s3_settings(tmp_path, s3_bucket=bucket))


def test_unknown_backend_is_refused(tmp_path):
    with pytest.raises(ValueError, match="STORAGE_BACKEND"):
        render_nginx_conf(settings(tmp_path, storage_backend="ftp"))


def test_settings_from_the_app_config_carry_no_store_credentials(tmp_path):
    from app.deploy.nginx import settings_from_config

    config = {"ROOT": str(tmp_path), "MEDIA_ROOT": str(tmp_path / "media"), "HTTP_PORT": 8080,
              "RTMP_PORT": 1935, "WEB_PORT": 8000, "HOOK_SECRET": SECRET, "STORAGE_BACKEND": "s3",
              "S3_ENDPOINT_URL": "http://127.0.0.1:9000", "S3_BUCKET": "cascade", "S3_REGION": "us-east-1",
              "AWS_ACCESS_KEY_ID": "cascade-access-id", "AWS_SECRET_ACCESS_KEY": S3_SECRET}
    found = settings_from_config(config, tmp_path / "nginx")
    text = render_nginx_conf(found)
    assert "proxy_pass http://cascade_s3/cascade/;" in text
    assert S3_SECRET not in text and "cascade-access-id" not in text
    assert S3_SECRET not in repr(found) and "cascade-access-id" not in repr(found)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000", "https://Objects.Example.org", "https://s3.example.org:443",
                                 "http://minio:80", "https://minio:9443/", "http://[::1]:9000"])
def test_nginx_sends_the_host_boto3_signs_so_signed_vod_urls_verify(url):
    from botocore.auth import _host_from_url  # what SigV4 puts in the signed `host` header

    from app.deploy.nginx import s3_upstream

    assert s3_upstream(url, None)["s3_host"] == _host_from_url(url)


def test_nginx_lets_idle_app_connections_go_before_gunicorn_does(tmp_path):
    """nginx sending a request on a kept-alive connection just as gunicorn closes it costs a POST a
    502 (nginx retries only idempotent requests): 24 of 300 POSTs at 2 s when gunicorn kept idle
    connections 2 s and nginx 60 s. nginx must always be the side that closes."""
    import runpy

    text = render_nginx_conf(settings(tmp_path))
    upstream = re.search(r"upstream cascade_web \{(.*?)\}", text, re.S).group(1)
    nginx_idle = int(re.search(r"keepalive_timeout (\d+)s;", upstream).group(1))
    gunicorn = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
    assert gunicorn["keepalive"] > nginx_idle + 5
    # The update hook keeps its clients when the app is away (a 502 there would drop them all).
    update = re.search(r"location = /hooks/rtmp/update \{(.*?)\}", text, re.S).group(1)
    assert "error_page 500 502 503 504 = @cascade_keep_client;" in update


def app_config(tmp_path, **overrides) -> dict:
    return {"ROOT": str(tmp_path), "MEDIA_ROOT": str(tmp_path / "media"), "HTTP_PORT": 8080,
            "RTMP_PORT": 1935, "WEB_PORT": 8000, "HOOK_SECRET": SECRET, **overrides}


def listens(text: str) -> list[str]:
    return re.findall(r"^\s*listen (\S+?)(?: default_server)?;", text, re.M)


@pytest.mark.parametrize("bind, http, rtmp", [
    ("", "8080", "1935"),                                   # the default: every interface
    ("127.0.0.1", "127.0.0.1:8080", "127.0.0.1:1935"),
    ("10.0.0.5", "10.0.0.5:8080", "10.0.0.5:1935"),
    ("::1", "[::1]:8080", "[::1]:1935"),
])
def test_bind_address_sets_the_public_listeners_and_only_them(tmp_path, bind, http, rtmp):
    from app.deploy.nginx import settings_from_config

    text = render_nginx_conf(settings_from_config(app_config(tmp_path, BIND_ADDRESS=bind), tmp_path / "nginx"))
    assert sorted(listens(text)) == sorted([rtmp, http, "127.0.0.1:8081"])  # the hook server stays on loopback


@pytest.mark.parametrize("bind", ["example.org", "10.0.0.5; evil", "0.0.0.0:80", "10.0.0.256"])
def test_bind_addresses_nginx_would_misread_are_refused(tmp_path, bind):
    from app.deploy.nginx import settings_from_config

    with pytest.raises(ValueError, match="BIND_ADDRESS"):
        render_nginx_conf(settings_from_config(app_config(tmp_path, BIND_ADDRESS=bind), tmp_path / "nginx"))


def configured(**env) -> dict:
    """Config's BIND_ADDRESS and INGEST_PULL_URL in a fresh interpreter with this environment."""
    import json
    import os
    import sys

    clean = {k: v for k, v in os.environ.items() if k not in ("BIND_ADDRESS", "INGEST_PULL_URL")}
    code = ("import json; from app.config import Config; "
            "print(json.dumps([Config.BIND_ADDRESS, Config.INGEST_PULL_URL]))")
    result = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True,
                            text=True, timeout=60, check=True, cwd=Path(__file__).resolve().parents[2])
    return json.loads(result.stdout.splitlines()[-1])


def test_bind_address_comes_from_the_environment_and_defaults_to_every_interface():
    assert configured() == ["", "rtmp://127.0.0.1:{rtmp_port}/live/{name}"]
    # Live hosts on this box pull RTMP from where nginx now listens, not from loopback.
    assert configured(BIND_ADDRESS="10.0.0.5") == ["10.0.0.5", "rtmp://10.0.0.5:{rtmp_port}/live/{name}"]
    assert configured(BIND_ADDRESS="::1") == ["::1", "rtmp://[::1]:{rtmp_port}/live/{name}"]


@pytest.mark.parametrize("bind", ["127.0.0.1", "::1"])
def test_bound_listeners_pass_nginx_t(tmp_path, bind):
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        pytest.skip("nginx is not installed")
    conf_settings = settings(tmp_path, http_host=bind, rtmp_host=bind)
    for sub in ("nginx/logs", "nginx/tmp", "static", "media/hls"):
        (tmp_path / sub).mkdir(parents=True, exist_ok=True)
    conf = tmp_path / "nginx" / "nginx.conf"
    conf.write_text(render_nginx_conf(conf_settings))
    result = subprocess.run([nginx, "-t", "-p", conf_settings["prefix"], "-c", str(conf), "-e", "stderr"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
