"""What the live processes share (pure): stream names, folders, pull URLs, part announcements, Redis keys."""
from __future__ import annotations

import pytest

from app.config import ROOT
from app.live.state import (
    INTERNAL_NAME,
    LiveKeys,
    announce_channel,
    announcement,
    hls_dir,
    media_root,
    new_internal_name,
    parse_announcement,
    pull_url,
    work_dir,
)

NAME = "st-0123456789abcdef"


def test_internal_names_are_fresh_and_safe_in_paths():
    made = {new_internal_name() for _ in range(50)}
    assert len(made) == 50
    assert all(INTERNAL_NAME.fullmatch(name) for name in made)


def test_an_absolute_media_root_is_kept(tmp_path):
    assert media_root({"MEDIA_ROOT": str(tmp_path)}) == tmp_path


def test_a_relative_media_root_is_the_project_folders_not_the_working_directorys(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert media_root({"MEDIA_ROOT": "var/media"}) == ROOT / "var" / "media"
    assert hls_dir({"MEDIA_ROOT": "var/media"}, NAME) == ROOT / "var" / "media" / "hls" / NAME


def test_session_folders(tmp_path):
    config = {"MEDIA_ROOT": str(tmp_path)}
    assert hls_dir(config, NAME) == tmp_path / "hls" / NAME
    assert work_dir(config, NAME) == tmp_path / "work" / NAME


@pytest.mark.parametrize("name", [
    "../../etc", "st-0123456789ABCDEF", "st-0123456789abcde", "st-0123456789abcdef0",
    f"{NAME}/../x", f"{NAME}\n", "", "stream-key-of-a-creator",
])
@pytest.mark.parametrize("folder", [hls_dir, work_dir])
def test_folders_refuse_anything_but_an_internal_name(tmp_path, folder, name):
    with pytest.raises(ValueError, match="not an internal stream name"):
        folder({"MEDIA_ROOT": str(tmp_path)}, name)


def test_pull_url_from_the_configured_template_or_the_ingest_that_holds_the_stream():
    config = {"INGEST_PULL_URL": "rtmp://127.0.0.1:{rtmp_port}/live/{name}", "RTMP_PORT": 1936}
    assert pull_url(config, NAME) == f"rtmp://127.0.0.1:1936/live/{NAME}"
    assert pull_url(config, NAME, "rtmp://ingest-2:{rtmp_port}/live/{name}") == f"rtmp://ingest-2:1936/live/{NAME}"
    assert pull_url(config, NAME, "rtmp://ingest-3/app/{name}") == f"rtmp://ingest-3/app/{NAME}"


def test_announcements_round_trip():
    assert announce_channel(NAME) == f"cascade:hls:{NAME}"
    assert announcement("720p", 12, 3) == "720p 12 3"
    assert parse_announcement(announcement("720p", 12, 3)) == ("720p", 12, 3)


@pytest.mark.parametrize("text", ["", "720p 12", "720p 12 3 4", "720p x 3", "720p 12 -1", "720p 1.5 0"])
def test_a_malformed_announcement_is_ignored(text):
    assert parse_announcement(text) is None


def test_keys_are_namespaced_by_site_so_test_stacks_can_share_a_redis():
    one, other = LiveKeys({"RQ_QUEUE": "cascade"}), LiveKeys({"RQ_QUEUE": "cascade-test-7"})
    assert one.lease(5) == "cascade:cascade:live:lease:5"
    every = [(keys.lease(5), keys.fence(5), keys.stats(5), keys.placement(5), keys.host("box"),
              keys.hosts, keys.wake) for keys in (one, other)]
    assert len(set(every[0])) == 7  # distinct within a site
    assert not set(every[0]) & set(every[1])  # and across sites
    assert all(key.startswith("cascade:cascade-test-7:live:") for key in every[1])


def test_session_ids_are_numbers_in_keys():
    keys = LiveKeys({"RQ_QUEUE": "cascade"})
    assert keys.lease("7") == keys.lease(7)
    with pytest.raises(ValueError):
        keys.fence("7 *")
