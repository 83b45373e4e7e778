"""`flask live hosts`: the hosts' heartbeats from real Redis and the open sessions."""
from __future__ import annotations

from app.extensions import get_redis
from app.live import hosts
from app.live.state import LiveKeys


def lines_of(output: str) -> list[str]:
    return [line.split() for line in output.splitlines()]


def test_hosts_and_open_sessions(runner, live_state):
    result = runner.invoke(args=["live", "hosts"])
    assert result.exit_code == 0, result.output
    rows = lines_of(result.output)
    assert ["Live", "hosts", "(2)"] in rows and ["Live", "sessions", "(3)"] in rows
    box_a = next(row for row in rows if row[:1] == ["box-a"])
    # id, capacity, reserved, measured load, hw used/total, encoder, sessions, heartbeat age
    assert box_a[:7] == ["box-a", "6.80", "1.25", "0.93", "2/3", "nvenc", "1"]
    assert float(box_a[7]) < 5 and box_a[8:] == ["s", "ago"]
    assert next(row for row in rows if row[:1] == ["box-b"])[:7] == ["box-b", "3.40", "0.00", "0.00", "0/0",
                                                                      "libx264", "0"]
    sessions = {row[1]: row for row in rows if row[:1] and row[0].isdigit()}
    assert set(sessions) == {"placed", "waiting", "away"}  # the ended one is not listed
    placed, waiting, away = live_state["placed"], live_state["waiting"], live_state["away"]
    assert sessions["placed"] == [str(placed.id), "placed", "live", "ladder", "720p,", "480p,", "360p",
                                  "box-a", "yes"]
    assert sessions["waiting"] == [str(waiting.id), "waiting", "live", "waiting", "for", "a", "host",
                                   "-", "-", "no"]
    assert sessions["away"] == [str(away.id), "away", "reconnecting", "passthrough", "source", "box-a", "no"]


def test_columns_line_up(runner, live_state):
    output = runner.invoke(args=["live", "hosts"]).output.splitlines()
    header = next(line for line in output if "ENCODER" in line)
    row = next(line for line in output if line.strip().startswith("box-a"))
    assert row.index("nvenc") == header.index("ENCODER")


def test_a_silent_host_drops_out(app, runner, live_state):
    keys = LiveKeys(app.config)
    get_redis().delete(keys.host("box-b"))  # its heartbeat expired
    result = runner.invoke(args=["live", "hosts"])
    assert "box-b" not in result.output and "Live hosts (1)" in result.output
    assert [host.id for host in hosts.live_hosts(get_redis(), keys)] == ["box-a"]


def test_nothing_running(runner):
    result = runner.invoke(args=["live", "hosts"])
    assert result.exit_code == 0, result.output
    assert "Live hosts (0)" in result.output and "sessions wait until one starts" in result.output
    assert "Live sessions (0)" in result.output


def test_other_sites_hosts_are_not_listed(make_app, live_state):
    other = make_app(RQ_QUEUE="another-site")
    with other.app_context():
        result = other.test_cli_runner().invoke(args=["live", "hosts"])
    assert "Live hosts (0)" in result.output


def test_redis_down_still_lists_sessions_and_fails(make_app):
    down = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    with down.app_context():
        result = down.test_cli_runner().invoke(args=["live", "hosts"])
    assert result.exit_code == 1
    assert "cannot reach Redis" in result.output and "Live sessions (0)" in result.output

