"""Both storage backends behind one interface: the local directory and S3 (a real S3 API on
loopback: MinIO where available, else moto's server)."""
from __future__ import annotations

import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from app.storage.backends import BadKey, LocalStorage, ObjectMissing, S3Storage, get_storage


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "objects", "/media/")
    server = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")
    return S3Storage(bucket, endpoint_url=server.endpoint_url, access_key=server.access_key,
                     secret_key=server.secret_key, base_url="/media/")


@pytest.fixture
def s3(s3_server, s3_bucket) -> S3Storage:
    return S3Storage(s3_bucket, endpoint_url=s3_server.endpoint_url, access_key=s3_server.access_key,
                     secret_key=s3_server.secret_key, multipart_mb=5)


def test_put_get_exists_delete(storage, tmp_path):
    storage.put_bytes("thumbnails/3/live.jpg", b"jpeg", "image/jpeg")
    assert storage.exists("thumbnails/3/live.jpg") and storage.get_bytes("thumbnails/3/live.jpg") == b"jpeg"
    assert storage.size("thumbnails/3/live.jpg") == 4 and storage.size("thumbnails/3/none.jpg") is None
    with storage.open("thumbnails/3/live.jpg") as handle:
        assert handle.read() == b"jpeg"
    source = tmp_path / "in.bin"
    source.write_bytes(b"x" * 100_000)
    storage.put_file("uploads/a.bin", source)
    assert storage.get_bytes("uploads/a.bin") == source.read_bytes()
    storage.get_file("uploads/a.bin", tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == source.read_bytes()
    storage.put_bytes("thumbnails/3/live.jpg", b"newer", "image/jpeg")
    assert storage.get_bytes("thumbnails/3/live.jpg") == b"newer"
    storage.delete("thumbnails/3/live.jpg")
    storage.delete("thumbnails/3/live.jpg")  # twice is fine
    assert not storage.exists("thumbnails/3/live.jpg")
    assert [obj.key for obj in storage.list("uploads/")] == ["uploads/a.bin"]  # no temporary files


def test_missing_objects_raise_object_missing(storage, tmp_path):
    for call in (lambda: storage.get_bytes("a/none.bin"), lambda: storage.open("a/none.bin"),
                 lambda: storage.get_file("a/none.bin", tmp_path / "x")):
        with pytest.raises(ObjectMissing):
            call()
    assert issubclass(ObjectMissing, FileNotFoundError)


def test_delete_prefix(storage):
    for key in ("vod/1/a.m4s", "vod/1/b/c.m4s", "vod/10/a.m4s", "vod/2/a.m4s"):
        storage.put_bytes(key, b"1", None)
    assert storage.delete_prefix("vod/1/") == 2
    assert not storage.exists("vod/1/a.m4s") and storage.exists("vod/10/a.m4s")
    assert storage.delete_prefix("vod/1") == 1  # a name prefix: vod/10
    assert storage.exists("vod/2/a.m4s")
    assert storage.delete_prefix("nothing/") == 0


def test_list_gives_keys_sizes_and_times(storage):
    before = datetime.now(UTC) - timedelta(minutes=5)
    storage.put_bytes("vods/7/master.m3u8", b"#EXTM3U\n", None)
    storage.put_bytes("vods/7/720p/index.m3u8", b"#EXTM3U\n#", None)
    storage.put_bytes("vods/70/x.jpg", b"j", None)
    storage.put_bytes("thumbnails/1/live.jpg", b"j", None)
    listed = list(storage.list("vods/7/"))
    assert [(obj.key, obj.size) for obj in listed] == [("vods/7/720p/index.m3u8", 9), ("vods/7/master.m3u8", 8)]
    assert all(before < obj.modified < datetime.now(UTC) + timedelta(minutes=5) for obj in listed)
    assert {obj.key for obj in storage.list("vods/")} == {"vods/7/master.m3u8", "vods/7/720p/index.m3u8",
                                                          "vods/70/x.jpg"}
    assert len(list(storage.list())) == 4
    assert list(storage.list("none/")) == []


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


def test_get_storage_from_config(tmp_path, s3_config):
    default = get_storage({"MEDIA_ROOT": str(tmp_path), "STORAGE_BACKEND": "local", "STORAGE_ROOT": "",
                           "STORAGE_URL": "/media/"})
    assert default.root == (tmp_path / "objects").resolve()
    explicit = get_storage({"MEDIA_ROOT": str(tmp_path), "STORAGE_ROOT": str(tmp_path / "o2"),
                            "STORAGE_URL": "/m/"})
    assert explicit.root == (tmp_path / "o2").resolve() and explicit.url("a") == "/m/a"
    with pytest.raises(ValueError, match="STORAGE_BACKEND"):
        get_storage({"MEDIA_ROOT": str(tmp_path), "STORAGE_BACKEND": "ftp"})
    s3 = get_storage({**s3_config, "STORAGE_URL": "/media/"})
    assert isinstance(s3, S3Storage) and s3.bucket == s3_config["S3_BUCKET"]
    assert get_storage({**s3_config, "STORAGE_URL": "/media/"}) is s3  # one client per process
    s3.put_bytes("a/b.txt", b"hi", None)
    assert s3.get_bytes("a/b.txt") == b"hi"


# S3 only ------------------------------------------------------------------------------------

def test_large_files_go_up_in_parts(s3, tmp_path):
    source = tmp_path / "video.mp4"
    source.write_bytes(bytes(range(256)) * (12 * 1024 * 1024 // 256 + 1))  # 12 MB: three 5 MB parts
    s3.put_file("vods/1/video.mp4", source)
    head = s3.client.head_object(Bucket=s3.bucket, Key="vods/1/video.mp4")
    assert head["ETag"].strip('"').endswith("-3"), "a multipart upload's ETag ends in -<parts>"
    assert head["ContentType"] == "video/mp4" and head["ContentLength"] == source.stat().st_size
    s3.get_file("vods/1/video.mp4", tmp_path / "back.mp4")
    assert (tmp_path / "back.mp4").read_bytes() == source.read_bytes()


def test_content_type_comes_from_the_key(s3):
    for key, expected in (("hls/a/720p/index.m3u8", "application/vnd.apple.mpegurl"),
                          ("hls/a/720p/s1.m4s", "video/mp4"), ("vods/1/thumbnails.vtt", "text/vtt"),
                          ("profiles/1/avatar.jpg", "image/jpeg"), ("x/unknown.bin", "application/octet-stream")):
        s3.put_bytes(key, b"1", None)
        assert s3.client.head_object(Bucket=s3.bucket, Key=key)["ContentType"] == expected


def test_presigned_urls_read_the_object_without_credentials(s3):
    s3.put_bytes("vods/2/video.mp4", b"mp4 bytes", None)
    url = s3.presigned_url("vods/2/video.mp4", expires=60, filename="my broadcast.mp4")
    assert "Signature" in url or "X-Amz-Signature" in url
    with urllib.request.urlopen(url, timeout=5) as answer:
        assert answer.read() == b"mp4 bytes"
        assert "attachment" in answer.headers.get("Content-Disposition", "")
    with pytest.raises(BadKey):
        s3.presigned_url("../etc/passwd")


def test_delete_prefix_in_batches_of_a_thousand(s3):
    keys = [f"hls/live/720p/p{n}.0.m4s" for n in range(1005)]
    s3.delete_keys([])  # nothing to do is fine
    with ThreadPoolExecutor(8) as pool:  # boto3's clients are thread-safe; one by one took 25 s
        list(pool.map(lambda key: s3.client.put_object(Bucket=s3.bucket, Key=key, Body=b""), keys))
    s3.put_bytes("hls/live2/x.m4s", b"", None)
    assert s3.delete_prefix("hls/live/") == 1005
    assert [obj.key for obj in s3.list("hls/")] == ["hls/live2/x.m4s"]


def test_ensure_bucket_makes_the_bucket_once(s3_server):
    bucket = s3_server.new_bucket_name()
    store = S3Storage(bucket, endpoint_url=s3_server.endpoint_url, access_key=s3_server.access_key,
                      secret_key=s3_server.secret_key)
    try:
        assert store.ensure_bucket(("thumbnails/", "hls/")) is True
        assert store.ensure_bucket(("thumbnails/", "hls/")) is False
        policy = store.client.get_bucket_policy(Bucket=bucket)["Policy"]
        assert f"arn:aws:s3:::{bucket}/hls/*" in policy and "vods" not in policy
    finally:
        store.client.delete_bucket(Bucket=bucket)


def test_an_empty_bucket_name_is_refused():
    with pytest.raises(ValueError, match="S3_BUCKET"):
        S3Storage("", endpoint_url="http://127.0.0.1:9")


def test_missing_object_on_s3_is_not_an_http_error(s3):
    with pytest.raises(ObjectMissing):
        s3.get_bytes("nothing/here.txt")
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{s3.endpoint_url}/{s3.bucket}/nothing/here.txt", timeout=5)
