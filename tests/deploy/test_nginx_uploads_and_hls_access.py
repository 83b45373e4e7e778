"""The rendered nginx config: the body limit comes from PICTURE_MAX_MB (with the app's own 413
page past it), and /hls/ asks the app whether a session's output is still public."""
import re

import pytest

from app.config import Config, request_body_limit
from app.deploy.nginx import prepare_dirs, render_nginx_conf, settings_from_config

from .test_nginx_conf import s3_settings, settings


def block(text: str, opening: str) -> str:
    start = text.index(opening + " {")
    depth, index = 0, start
    while True:
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0 and text[index] == "}":
            return text[start:index + 1]
        index += 1


def test_the_body_limit_follows_the_picture_limit(tmp_path):
    config = {"MEDIA_ROOT": str(tmp_path / "media"), "HTTP_PORT": 8080, "RTMP_PORT": 1935, "WEB_PORT": 8000,
              "HOOK_SECRET": "s" * 32, "PICTURE_MAX_MB": 7}
    assert settings_from_config(config, tmp_path / "nginx")["client_max_body_size"] == 8 * 1024 * 1024
    text = render_nginx_conf(settings(tmp_path, client_max_body_size=request_body_limit(7)))
    assert "client_max_body_size 8388608;" in text
    # The default is the app's: the same number Flask refuses above.
    assert f"client_max_body_size {Config.MAX_CONTENT_LENGTH};" in render_nginx_conf(settings(tmp_path))


def test_nginx_413_is_the_apps_page(tmp_path):
    text = render_nginx_conf(settings(tmp_path))
    public = block(text[text.index("http {"):], "server")  # the public HTTP server comes first
    assert "location /hls/" in public and "error_page 413 = @cascade_too_large;" in public
    named = block(text, "location @cascade_too_large")
    for directive in ("rewrite ^ /internal/too-large break;", "proxy_pass http://cascade_web;",
                      "proxy_method GET;", "proxy_pass_request_body off;"):
        assert directive in named, directive


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_hls_asks_the_app_once_a_second_or_two_per_stream(tmp_path, backend):
    text = render_nginx_conf(s3_settings(tmp_path) if backend == "s3" else settings(tmp_path))
    hls = block(text, "location /hls/")
    assert "auth_request /_auth/hls;" in hls and "error_page 403 = @cascade_missing;" in hls
    # The name comes from the normalised URI of the request itself, in every location serving /hls/.
    assert hls.count("set $cascade_hls_stream $cascade_hls_stream_of_uri;") == (2 if backend == "s3" else 1)
    assert hls.count("set $cascade_hls_viewer $cascade_hls_viewer_of_uri;") == (2 if backend == "s3" else 1)
    assert hls.count("error_page 401 = @cascade_gated;") == (2 if backend == "s3" else 1)
    assert re.search(r'map \$uri \$cascade_hls_stream_of_uri \{\s+'
                     r'"~\^/hls/\(\?<cascade_hls_name>st-\[0-9a-f\]\{16\}\)/"', text)
    auth = block(text, "location = /_auth/hls")
    for directive in ("internal;", "proxy_pass http://cascade_web/internal/hls-access;",
                      "proxy_pass_request_headers off;", "proxy_set_header X-Hls-Stream $cascade_hls_stream;",
                      "proxy_cache cascade_hls_access;",
                      # Per stream for parts and segments; per stream and viewer for playlists (the
                      # mature-content gate: tests/deploy/test_nginx_mature_gate.py).
                      "proxy_cache_key $cascade_hls_stream$cascade_hls_viewer;",
                      "proxy_set_header Cookie $cascade_hls_viewer;",
                      "proxy_cache_valid 204 401 403 1s;",
                      "proxy_cache_use_stale updating error timeout http_500 http_502 http_503 http_504;"):
        assert directive in auth, directive
    assert f'proxy_cache_path "{tmp_path}/nginx/cache-hls-access"' in text


@pytest.mark.e2e
def test_hls_plays_when_the_app_cannot_answer_and_nothing_is_remembered(tmp_path):
    """A stream's first viewer arriving while the app restarts gets the file (nginx's auth
    subrequest failing would otherwise be a 500): live streams fail open; ended ones nginx has
    heard of stay refused from its remembered answer."""
    import shutil
    import subprocess
    import time
    import urllib.request

    from tests.ports import free_ports

    nginx = shutil.which("nginx") or pytest.fail("nginx is missing")
    http_port, rtmp_port, web_port = free_ports(3)  # nothing listens on web_port: no app
    stream = tmp_path / "media" / "hls" / "st-0123456789abcdef"
    stream.mkdir(parents=True)
    (stream / "p1.0.m4s").write_bytes(b"part")
    conf = tmp_path / "nginx" / "nginx.conf"
    values = settings(tmp_path, http_port=http_port, rtmp_port=rtmp_port, web_port=web_port, user="root")
    prepare_dirs(values)
    conf.write_text(render_nginx_conf(values))
    process = subprocess.Popen([nginx, "-p", str(conf.parent), "-c", str(conf), "-e", "stderr",
                                "-g", "daemon off;"], stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{http_port}/hls/st-0123456789abcdef/p1.0.m4s"
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    assert response.status == 200 and response.read() == b"part"
                break
            except urllib.error.URLError as error:  # nginx not listening yet
                if not isinstance(error.reason, ConnectionRefusedError):
                    raise
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(10)
