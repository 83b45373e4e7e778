"""Typed settings from the environment (app.environment): defaults, accepted forms, and a bad value
that stops each process at start with the variable's name."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import environment
from app.environment import ConfigError

ROOT = Path(__file__).resolve().parents[1]
VAR = "CASCADE_TEST_SETTING"  # no setting of ours, so nothing else reads it


@pytest.fixture
def env(monkeypatch):
    """Set the test variable (None: unset it)."""
    def set_value(value: str | None) -> None:
        if value is None:
            monkeypatch.delenv(VAR, raising=False)
        else:
            monkeypatch.setenv(VAR, value)
    return set_value


def refused(read, value: str, env) -> str:
    env(value)
    with pytest.raises(ConfigError) as caught:
        read()
    assert caught.value.name == VAR
    return str(caught.value)


def test_whole_number(env):
    env(None)
    assert environment.whole_number(VAR, 1935) == 1935
    env(" 8080 ")
    assert environment.whole_number(VAR, 1935) == 8080
    assert refused(lambda: environment.whole_number(VAR, 1), "two", env) == f'{VAR} must be a whole number, got "two"'
    assert "whole number" in refused(lambda: environment.whole_number(VAR, 1), "19.35", env)
    # Blank failed before and still does, unless blank always meant the default (HOOK_PORT=).
    assert 'got ""' in refused(lambda: environment.whole_number(VAR, 1), "", env)
    env("")
    assert environment.whole_number(VAR, 7, blank_is_default=True) == 7


def test_positive_whole_number(env):
    env(None)
    assert environment.positive_whole_number(VAR, 30) == 30
    env("5")
    assert environment.positive_whole_number(VAR, 30) == 5
    for bad in ("0", "-3", "1.5", ""):
        assert refused(lambda: environment.positive_whole_number(VAR, 30), bad, env) == (
            f'{VAR} must be a whole number, 1 or more, got "{bad}"')


def test_every_process_takes_the_reconnect_grace_from_the_environment():
    read = "from app.live.state import RECONNECT_GRACE; print(RECONNECT_GRACE.total_seconds())"
    assert run_with({}, "-c", read).stdout.strip() == "30.0"
    assert run_with({"RECONNECT_GRACE_SECONDS": "8"}, "-c", read).stdout.strip() == "8.0"


def test_number(env):
    env(None)
    assert environment.number(VAR, 0.25) == 0.25
    env("1.5")
    assert environment.number(VAR, 0.25) == 1.5
    env("2")
    assert environment.number(VAR, 0.25) == 2.0
    assert refused(lambda: environment.number(VAR, 0), "two", env) == f'{VAR} must be a number, got "two"'
    for nonsense in ("nan", "inf"):
        assert "a number" in refused(lambda: environment.number(VAR, 0), nonsense, env)


@pytest.mark.parametrize(("value", "read"), [
    (None, True), ("1", True), ("true", True), ("Yes", True), (" ON ", True),
    ("0", False), ("false", False), ("no", False), ("off", False), ("", False), ("  ", False),
])
def test_flag_reads_what_it_always_read(env, value, read):
    env(value)
    assert environment.flag(VAR, True) is read


def test_flag_refuses_a_typo_it_used_to_read_as_false(env):
    message = refused(lambda: environment.flag(VAR, False), "ture", env)
    assert message == f'{VAR} must be true or false (or 1/0, yes/no, on/off), got "ture"'


def test_one_of(env):
    env(None)
    assert environment.one_of(VAR, "nginx", ("nginx", "srs")) == "nginx"
    env("srs")
    assert environment.one_of(VAR, "nginx", ("nginx", "srs")) == "srs"
    env("debug")
    assert environment.one_of(VAR, "INFO", ("DEBUG", "INFO"), str.upper) == "DEBUG"
    assert refused(lambda: environment.one_of(VAR, "nginx", ("nginx", "srs")), "rtmp", env) == \
        f'{VAR} must be one of nginx, srs, got "rtmp"'
    env("")
    assert environment.one_of(VAR, "nginx", ("nginx", "srs"), blank_is_default=True) == "nginx"


def test_url(env):
    env(None)
    assert environment.url(VAR, "http://127.0.0.1:1985", ("http", "https")) == "http://127.0.0.1:1985"
    env("https://live.example.org")
    assert environment.url(VAR, "", ("http", "https")) == "https://live.example.org"
    env("unix:///run/redis.sock")
    assert environment.url(VAR, "", ("redis", "rediss", "unix"), host=False) == "unix:///run/redis.sock"
    assert refused(lambda: environment.url(VAR, "", ("http", "https")), "live.example.org", env) == \
        f'{VAR} must be a URL starting http:// or https:// with a host, got "live.example.org"'
    assert "with a host" in refused(lambda: environment.url(VAR, "", ("http",)), "http://", env)


def test_a_refused_url_never_shows_its_password(env):
    message = refused(lambda: environment.url(VAR, "", ("redis",), host=False),
                      "http://cascade:hunter2secret@db.example.org/0", env)
    assert "hunter2secret" not in message and "cascade:***@db.example.org" in message


def test_sqlalchemy_url(env):
    env("postgresql://cascade:cascade@127.0.0.1:5432/cascade")
    assert environment.sqlalchemy_url(VAR, "sqlite://").startswith("postgresql://")
    env("sqlite:////var/lib/cascade/cascade.db")
    assert environment.sqlalchemy_url(VAR, "sqlite://") == "sqlite:////var/lib/cascade/cascade.db"
    assert "database URL" in refused(lambda: environment.sqlalchemy_url(VAR, "sqlite://"), "nonsense", env)


def test_rate_limits(env):
    env(None)
    assert environment.rate_limits(VAR, "5 per minute;30 per hour") == "5 per minute;30 per hour"
    env("2 per minute")
    assert environment.rate_limits(VAR, "5 per minute") == "2 per minute"
    env("")
    assert environment.rate_limits(VAR, "5 per minute") == ""  # no limit, as before
    assert "rate limits" in refused(lambda: environment.rate_limits(VAR, "5 per minute"), "lots", env)


def test_networks(env):
    env("10.0.0.0/8, 192.168.1.7,::1/128")
    assert environment.networks(VAR, "127.0.0.0/8") == "10.0.0.0/8, 192.168.1.7,::1/128"
    env("")
    assert environment.networks(VAR, "127.0.0.0/8") == ""  # nobody exempt, as before
    assert "networks" in refused(lambda: environment.networks(VAR, "127.0.0.0/8"), "10.0.0.300", env)


def test_a_long_bad_value_is_cut_short(env):
    message = refused(lambda: environment.whole_number(VAR, 1), "x" * 500, env)
    assert len(message) < 200 and message.endswith('…"')


def test_exit_on_config_error_turns_it_into_one_line_and_status_1():
    with pytest.raises(SystemExit) as caught, environment.exit_on_config_error():
        raise ConfigError("RTMP_PORT", "a whole number", "80a")
    assert caught.value.code == ('CONFIG ERROR: RTMP_PORT must be a whole number, got "80a" '
                                 "(set in the environment or in .env)")
    with pytest.raises(ValueError, match="unrelated"), environment.exit_on_config_error():
        raise ValueError("unrelated")  # only a bad setting is turned into an exit


def run_with(env: dict, *args: str) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("FLASK_")}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env={**clean, **env}, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("command", [
    ["-m", "flask", "--app", "app", "routes"],  # every flask command, doctor included
    ["-m", "workers", "--burst", "--wait", "0"],  # the RQ worker (the live host starts the same way)
    ["-c", "import runpy; runpy.run_path('gunicorn.conf.py')"],  # gunicorn's master reads this first
], ids=["flask", "worker", "gunicorn"])
def test_a_bad_setting_stops_the_process_at_start_with_its_name(command):
    result = run_with({"LIVE_HOST_CORES": "two"}, *command)
    assert result.returncode == 1
    assert result.stderr.strip() == ('CONFIG ERROR: LIVE_HOST_CORES must be a number, got "two" '
                                     "(set in the environment or in .env)")
    assert "Traceback" not in result.stderr


def test_good_settings_still_start_flask(tmp_path):
    result = run_with({"LIVE_HOST_CORES": "2.5", "SECURE_COOKIES": "yes", "INGEST": "srs",
                       "DATABASE_URL": f"sqlite:///{tmp_path / 'cascade.db'}"},
                      "-m", "flask", "--app", "app", "routes")
    assert result.returncode == 0, result.stderr
    assert "/hls/" in result.stdout
