"""After a session ends: keep its output as a recording for the VOD job, or drop it (an RQ job)."""
from __future__ import annotations

import json
import logging
import re
import shutil
import time
from pathlib import Path
from typing import Any

from flask import current_app

from app.extensions import db, get_redis
from app.jobs import enqueue_vod
from app.live import lease
from app.live.state import RECORDING_MANIFEST, LiveKeys, hls_dir, work_dir
from app.media.ffmpeg_args import MASTER_NAME
from app.media.llhls import RECORDING, end_playlist
from app.models import StreamSession
from app.storage.atomic import write_atomic
from app.storage.mirror import LIVE_PREFIX, live_mirror, sync_directory
from workers.context import app_context

log = logging.getLogger(__name__)

# seg_<n>.m4s from ffmpeg's HLS muxer (classic), s<msn>.m4s from our LL-HLS packager.
SEGMENT_FILE = re.compile(r"(?:seg_|s)([0-9]+)\.m4s")
INIT_FILE = re.compile(r"init-([0-9]+)(?:-[^/]*)?\.mp4")  # init-<n>-<rung>.mp4 (classic), init-<msn>.mp4
OWNER_WAIT = 15.0  # seconds to let the session's live host finish its last segment


def recording_manifest(session: StreamSession, out: Path) -> dict[str, Any]:
    """What the VOD job needs: every rung's init sections and segments in order, and with LL-HLS
    the rung's recording playlist (every segment with its init section and discontinuities)."""
    rungs: dict[str, dict[str, Any]] = {}
    for rung_dir in sorted(p for p in out.iterdir() if p.is_dir()):
        numbered = ((int(match[1]), p.name) for p in rung_dir.glob("*.m4s")
                    if (match := SEGMENT_FILE.fullmatch(p.name)))
        segments = [name for _, name in sorted(numbered)]
        numbered_inits = ((int(match[1]), p.name) for p in rung_dir.glob("init-*.mp4")
                          if (match := INIT_FILE.fullmatch(p.name)))
        inits = [name for _, name in sorted(numbered_inits)]
        recorded = (rung_dir / RECORDING).exists()
        if segments and not recorded and not segments[0].startswith("seg_"):
            continue  # LL-HLS without a recording list: a rendition added live, never recorded
        if segments:
            rungs[rung_dir.name] = {"inits": inits, "segments": segments}
            if recorded:
                rungs[rung_dir.name]["playlist"] = RECORDING
    return {
        "session_id": session.id,
        "channel_id": session.channel_id,
        "internal_name": session.internal_name,
        "started_at": session.started_at.isoformat() if session.started_at else None,
        "ended_at": session.ended_at.isoformat() if session.ended_at else None,
        "renditions": session.renditions,
        "master": MASTER_NAME,
        "rungs": rungs,
    }


def finish_session(session_id: int) -> str:
    """After a session ends: drop its HLS output when the channel does not record, else keep it
    and write `recording.json` beside the playlists. Safe to run twice."""
    with app_context():
        session = db.session.get(StreamSession, session_id)
        if session is None:
            return "missing"
        if session.status != "ended":
            return "still open"
        config = current_app.config
        redis = get_redis()
        keys = LiveKeys(config)
        # The session's live host may still be finishing its last segment.
        deadline = time.monotonic() + OWNER_WAIT
        while lease.holder(redis, keys, session_id) is not None and time.monotonic() < deadline:
            time.sleep(0.25)
        out = hls_dir(config, session.internal_name)
        mirror = live_mirror(config)
        shutil.rmtree(work_dir(config, session.internal_name), ignore_errors=True)
        redis.delete(keys.stats(session_id))
        if not session.channel.record:
            shutil.rmtree(out, ignore_errors=True)
            if mirror is not None:
                mirror.storage.delete_prefix(f"{LIVE_PREFIX}{session.internal_name}/")
            log.info("session %s (%s): output deleted (recording is off)", session_id, session.internal_name)
            return "deleted"
        if not out.is_dir():
            return "nothing recorded"
        for rung_dir in (p for p in out.iterdir() if p.is_dir()):
            # A run that could not finish (its host died, or the publisher never came back) left
            # its LL-HLS playlist live: end it, and drop the parts the VOD does not need.
            end_playlist(rung_dir)
            for part in rung_dir.glob("p*.m4s"):
                part.unlink(missing_ok=True)
        write_atomic(out / RECORDING_MANIFEST,
                     json.dumps(recording_manifest(session, out), indent=1).encode())
        if mirror is not None:
            # The VOD job may run on another host: the bucket gets the ended playlists, the
            # recording lists and manifest, any segment a failed upload left out, and loses the
            # parts (and anything else) no longer on disk.
            counts = sync_directory(mirror, out)
            log.info("session %s (%s): bucket copy complete (%d put, %d deleted)", session_id,
                     session.internal_name, counts["put"], counts["deleted"])
        log.info("session %s (%s): output kept for the recording", session_id, session.internal_name)
        enqueue_vod(session_id)
        return "kept"
