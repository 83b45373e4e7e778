"""render_nginx_conf on its own: what it refuses and what each ingest mode contains (no processes)."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from app.media.nginx import render_nginx_conf

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


@pytest.mark.parametrize("ingest", ["nginx", "srs"])
def test_both_modes_pass_nginx_t(tmp_path, ingest):
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        pytest.skip("nginx is not installed")
    conf_settings = settings(tmp_path, ingest=ingest)
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


def test_hls_reloads_with_delivery_directives_go_to_the_app(tmp_path):
    """Files stay nginx's; only directive-carrying playlist requests and missing files reach the app
    (tests/e2e/test_hls_blocking.py proves the routing on a running nginx)."""
    text = render_nginx_conf(settings(tmp_path))
    hls = text.split("location /hls/ {", 1)[1].split("}\n", 2)
    assert "error_page 418 = @hls_app;" in text and "error_page 404 = @hls_app;" in text
    assert "if ($cascade_hls_directives) {\n                return 418;" in text
    assert "_HLS_(msn|part|skip)=" in text
    assert "proxy_pass" not in hls[0]  # only `return` inside the location's `if`
    assert "location @hls_app {\n            proxy_pass http://cascade_web;" in text
