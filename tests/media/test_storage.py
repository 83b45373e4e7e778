"""The local storage backend: atomic writes, safe keys, URLs."""
from __future__ import annotations

import pytest

from app.media.storage import BadKey, LocalStorage, get_storage


@pytest.fixture
def storage(tmp_path):
    return LocalStorage(tmp_path / "objects", "/media/")


def test_put_get_exists_delete(storage, tmp_path):
    storage.put_bytes("thumbnails/3/live.jpg", b"jpeg", "image/jpeg")
    assert storage.exists("thumbnails/3/live.jpg") and storage.get_bytes("thumbnails/3/live.jpg") == b"jpeg"
    with storage.open("thumbnails/3/live.jpg") as handle:
        assert handle.read() == b"jpeg"
    source = tmp_path / "in.bin"
    source.write_bytes(b"x" * 100_000)
    storage.put_file("uploads/a.bin", source)
    assert storage.get_bytes("uploads/a.bin") == source.read_bytes()
    storage.put_bytes("thumbnails/3/live.jpg", b"newer", "image/jpeg")
    assert storage.get_bytes("thumbnails/3/live.jpg") == b"newer"
    storage.delete("thumbnails/3/live.jpg")
    storage.delete("thumbnails/3/live.jpg")  # twice is fine
    assert not storage.exists("thumbnails/3/live.jpg")
    # No temporary files are left next to the objects.
    assert [p.name for p in (tmp_path / "objects" / "uploads").iterdir()] == ["a.bin"]


def test_delete_prefix(storage):
    for key in ("vod/1/a.m4s", "vod/1/b/c.m4s", "vod/10/a.m4s", "vod/2/a.m4s"):
        storage.put_bytes(key, b"1", None)
    assert storage.delete_prefix("vod/1/") == 2
    assert not storage.exists("vod/1/a.m4s") and storage.exists("vod/10/a.m4s")
    assert storage.delete_prefix("vod/1") == 1  # a name prefix: vod/10
    assert storage.exists("vod/2/a.m4s")
    assert storage.delete_prefix("nothing/") == 0


def test_url(storage):
    assert storage.url("thumbnails/3/live.jpg") == "/media/thumbnails/3/live.jpg"
    assert LocalStorage("/x", "https://cdn.example/m").url("a.jpg") == "https://cdn.example/m/a.jpg"


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/b/",
                                 "a\\b", "a b", "..", "a/..", "x\0y", "é.jpg", "a" * 600])
def test_bad_keys_are_refused_everywhere(storage, key):
    for call in (lambda: storage.put_bytes(key, b"", None), lambda: storage.get_bytes(key),
                 lambda: storage.exists(key), lambda: storage.delete(key), lambda: storage.url(key)):
        with pytest.raises(BadKey):
            call()


@pytest.mark.parametrize("prefix", ["", "/", "../", "a/../"])
def test_bad_prefixes_are_refused(storage, prefix):
    with pytest.raises(BadKey):
        storage.delete_prefix(prefix)


def test_get_storage_from_config(tmp_path):
    default = get_storage({"MEDIA_ROOT": str(tmp_path), "STORAGE_BACKEND": "local", "STORAGE_ROOT": "",
                           "STORAGE_URL": "/media/"})
    assert default.root == (tmp_path / "objects").resolve()
    explicit = get_storage({"MEDIA_ROOT": str(tmp_path), "STORAGE_ROOT": str(tmp_path / "o2"),
                            "STORAGE_URL": "/m/"})
    assert explicit.root == (tmp_path / "o2").resolve() and explicit.url("a") == "/m/a"
    with pytest.raises(ValueError, match="STORAGE_BACKEND"):
        get_storage({"MEDIA_ROOT": str(tmp_path), "STORAGE_BACKEND": "ftp"})
