// The players' quality-of-experience meter and heartbeat sending, shared by the live player
// (player.js) and the VOD player (vod-player.js): window.CascadeQoE.
(function () {
  "use strict";

  // What the viewer got since the last beat: playing and rebuffering time, startup, fatal errors,
  // time per rendition, frames. Time is taken with performance.now() at each change of state, never
  // by counting timer ticks (a busy or hidden tab delays those). Each beat takes the counters and
  // starts them again from zero: the server adds deltas up, so a lost beat loses only its own
  // interval. The live player (player.js) and the VOD player (vod-player.js) both use it.
  function qoeMeter(video, options) {
    var MAX_RANGES = 40;      // a viewer scrubbing to and fro stays far below the server's size cap
    var hls = null;
    var measured = false;     // hls.js has loaded a fragment: its bandwidth estimate is no longer its default
    var level = null;         // hls.js's level on screen (1.7 says LEVEL_SWITCHED as the playhead reaches it)
    var intentAt = null;      // the first `play`: autoplay, a play() call or the viewer pressing play
    var candidate = null;     // a `playing` whose playhead has not been seen moving yet: {at, pos}
    var started = false;      // the first frame played, the playhead moving
    var startupMs = null;     // for the next beat, once
    var failure = null;       // a fatal error before the first frame: for the next beat, once
    var failureSaid = false;
    var recoveredAt = -Infinity;
    var stall = null;         // the rebuffer going on: {at, pos}
    var stallCut = false;     // a pause or a reload cut a stall short and nothing has played since
    var mode = "idle";        // "play", "rebuffer" or "idle" since `since`, at `height`, `upscaled`
    var since = performance.now();
    var height = 0;
    var upscaled = false;
    var run = null;           // playing since {pos, at}: the positions played, for `ranges`
    var seen = null;          // the playhead at the last timeupdate while playing: {pos, at}
    var counted = { total: 0, dropped: 0 };  // getVideoPlaybackQuality() as last counted
    var seq = 0;
    var takenAt = since;
    var lastState = null;
    var sums = fresh(0, 0);

    function fresh(play, rebuffer) {
      return { play: play, rebuffer: rebuffer, rebuffers: 0, errors: 0, error: null, renditions: {},
               upscale: 0, ranges: [], frames: 0, dropped: 0, by: {} };
    }

    // Per rendition (by its height): time rebuffering and upscaled, frames shown and dropped.
    function part(at) {
      if (!sums.by[at]) sums.by[at] = { rebuffer: 0, upscale: 0, dropped: 0, frames: 0 };
      return sums.by[at];
    }

    function accrue() {
      var now = performance.now();
      var ms = now - since;
      since = now;
      if (mode === "play") {
        sums.play += ms;
        sums.renditions[height] = (sums.renditions[height] || 0) + ms;
        if (upscaled) {
          sums.upscale += ms;
          part(height).upscale += ms;
        }
      } else if (mode === "rebuffer") {
        sums.rebuffer += ms;
        if (height) part(height).rebuffer += ms;
      }
      return now;
    }

    // A stall goes on through the seeks hls.js makes to get out of it (over a hole, back to the
    // live window) until the playhead moves again; a seek alone is no rebuffer.
    function modeNow() {
      if (!started || video.paused || video.ended) return "idle";
      if (stall) return "rebuffer";
      return video.readyState >= 3 && !video.seeking ? "play" : "idle";
    }

    function renditionHeight() {
      var playing = hls && level !== null ? hls.levels[level] : null;
      return (playing && playing.height) || video.videoHeight || 0;
    }

    // The picture's height on screen in device pixels (letterboxed inside the element).
    function shownHeight() {
      var shown = video.clientHeight;
      if (video.clientWidth && video.videoWidth && video.videoHeight) {
        shown = Math.min(shown, video.clientWidth * video.videoHeight / video.videoWidth);
      }
      return shown * (window.devicePixelRatio || 1);
    }

    // Every event comes through here: the time since the last one goes to the state it was spent
    // in, then the event changes the state.
    function update(change) {
      var now = accrue();
      if (change) change(now);
      var next = modeNow();
      if (next !== "play" && run) endRun(video.currentTime);
      if (next === "play") {
        if (!run) run = { pos: video.currentTime, at: now };
        stallCut = false;
      }
      mode = next;
      var shown = renditionHeight();
      if (shown !== height) foldFrames();  // the frames so far were the old rendition's
      height = shown;
      upscaled = height > 0 && height + 1 < shownHeight();
    }

    function endRun(to) {
      var from = run.pos;
      run = null;
      if (!options.ranges || !(to > from + 0.05)) return;
      var ranges = sums.ranges;
      var last = ranges[ranges.length - 1];
      if (last && Math.abs(last[1] - from) < 0.2) last[1] = Math.max(last[1], to);  // paused, or split by a beat
      else if (ranges.length < MAX_RANGES) ranges.push([from, to]);
    }

    // Where the playhead was when a seek took it away (`currentTime` already says where it went).
    function beforeSeek(now) {
      var from = seen && seen.at >= run.at ? seen : run;
      return from.pos + Math.min(1, (now - from.at) / 1000) * video.playbackRate;
    }

    function startStall(now) {
      if (!started) candidate = null;
      if (!started || stall || video.paused || video.seeking || video.ended) return;
      stall = { at: now, pos: video.currentTime };
      if (!stallCut) sums.rebuffers += 1;  // else the same stall goes on after a pause or a reload
    }

    function endStall(now) {
      if (!stall) return;
      stall = null;
      if (now !== undefined) stallCut = true;
    }

    video.addEventListener("play", function () {
      update(function (now) { if (intentAt === null) intentAt = now; });
    });
    video.addEventListener("playing", function () {
      update(function (now) {
        if (!started) candidate = { at: now, pos: video.currentTime };
        endStall();
      });
    });
    video.addEventListener("timeupdate", function () {
      update(function () {
        var pos = video.currentTime;
        if (!started && candidate && !video.seeking && !video.paused && pos > candidate.pos) {
          started = true;
          if (intentAt !== null) startupMs = Math.max(1, Math.round(candidate.at - intentAt));
          since = candidate.at;  // playing since the `playing` this movement confirms
          run = { pos: candidate.pos, at: candidate.at };
        }
        if (stall && !video.seeking && pos > stall.pos + 0.1) endStall();  // moving, though no `playing` said so
      });
      if (mode === "play" && !video.seeking) seen = { pos: video.currentTime, at: since };
    });
    video.addEventListener("waiting", function () { update(startStall); });
    video.addEventListener("seeking", function () {
      update(function (now) {
        if (run) endRun(beforeSeek(now));
        candidate = null;
      });
    });
    video.addEventListener("seeked", function () {
      update(function (now) {
        if (!started && !video.paused && video.readyState >= 3) candidate = { at: now, pos: video.currentTime };
        if (stall) stall.pos = video.currentTime;
      });
    });
    ["pause", "ended", "emptied"].forEach(function (name) {
      video.addEventListener(name, function () {
        update(function (now) {
          if (run && name === "emptied") endRun(beforeSeek(now));  // a reload has reset the playhead
          candidate = null;
          endStall(name === "ended" ? undefined : now);
        });
      });
    });
    video.addEventListener("resize", function () { update(); });
    window.addEventListener("resize", function () { update(); });
    document.addEventListener("fullscreenchange", function () { update(); });

    function attach(instance) {
      var Hls = window.Hls;
      hls = instance;
      level = null;
      measured = false;
      instance.on(Hls.Events.FRAG_LOADED, function () { measured = true; });
      instance.on(Hls.Events.LEVEL_SWITCHED, function (event, data) {
        update(function () { level = data.level; });
      });
      if (Hls.Events.STALL_RESOLVED) {
        instance.on(Hls.Events.STALL_RESOLVED, function () { update(function () { endStall(); }); });
      }
      instance.on(Hls.Events.ERROR, function (event, data) {
        if (!data.fatal) {
          if (data.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR) update(startStall);
          return;
        }
        // The players answer a media error with recoverMediaError(): it failed when another comes soon.
        var now = performance.now();
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR && now - recoveredAt > 5000) {
          recoveredAt = now;
          return;
        }
        fatal(data.details);
      });
    }

    function detach() {
      update(function () { foldFrames(); });
      hls = null;
      level = null;
    }

    function fatal(code) {
      update(function () {
        code = String(code || "error").slice(0, 40);
        if (started) {
          sums.errors += 1;
          sums.error = code;
        } else if (!failureSaid && failure === null) {
          failure = code;
        }
      });
    }

    // A new source counts frames from zero again: fold in what the old one counted first.
    function foldFrames() {
      var quality = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
      if (!quality) return;
      if (quality.totalVideoFrames < counted.total || quality.droppedVideoFrames < counted.dropped) {
        counted = { total: 0, dropped: 0 };
      }
      var frames = quality.totalVideoFrames - counted.total;
      var dropped = quality.droppedVideoFrames - counted.dropped;
      sums.frames += frames;
      sums.dropped += dropped;
      if (height && (frames || dropped)) {
        part(height).frames += frames;
        part(height).dropped += dropped;
      }
      counted = { total: quality.totalVideoFrames, dropped: quality.droppedVideoFrames };
    }

    // A stream that ends stalls the player until the status says so: no rebuffer of the viewer's.
    function forgetStall() {
      update(function (now) {
        if (!stall) return;
        sums.rebuffer = Math.max(0, sums.rebuffer - (now - Math.max(stall.at, takenAt)));
        if (stall.at >= takenAt && !stallCut) sums.rebuffers = Math.max(0, sums.rebuffers - 1);
        stall = null;
      });
    }

    function tenth(seconds) { return Math.round(seconds * 10) / 10; }

    // The beat's measures since the previous beat (the caller adds viewer, token and state).
    function take(state) {
      update(function () { if (run) endRun(video.currentTime); });  // a run goes on in the next beat
      foldFrames();
      seq += 1;
      var play = Math.round(sums.play);
      var rebuffer = Math.round(sums.rebuffer);
      var beat = { seq: seq, play_ms: play, rebuffer_ms: rebuffer, rebuffers: sums.rebuffers };
      if (startupMs !== null) beat.startup_ms = startupMs;
      startupMs = null;
      if (failure !== null) {
        beat.failed = failure;
        failure = null;
        failureSaid = true;
      }
      if (sums.errors) {
        beat.errors = sums.errors;
        beat.error = sums.error;
      }
      var renditions = {};
      Object.keys(sums.renditions).forEach(function (key) {
        var ms = Math.round(sums.renditions[key]);
        if (ms > 0) renditions[key] = ms;
      });
      if (Object.keys(renditions).length) {
        beat.renditions = renditions;
        beat.upscale_ms = Math.round(sums.upscale);
      }
      var by = {};
      Object.keys(sums.by).forEach(function (key) {
        var got = sums.by[key];
        if (got.rebuffer >= 1 || got.upscale >= 1 || got.frames || got.dropped) {
          by[key] = { rebuffer_ms: Math.round(got.rebuffer), upscale_ms: Math.round(got.upscale),
                      dropped: got.dropped, frames: got.frames };
        }
      });
      if (Object.keys(by).length) beat.by_rendition = by;
      if (options.live && hls) {
        if (hls.latency > 0) beat.latency_ms = Math.round(hls.latency * 1000);
        if (hls.targetLatency > 0) beat.target_ms = Math.round(hls.targetLatency * 1000);
      }
      if (video.getVideoPlaybackQuality) {
        beat.dropped = sums.dropped;
        beat.frames = sums.frames;
      }
      if (hls && measured && hls.bandwidthEstimate > 0) beat.bandwidth_kbps = Math.round(hls.bandwidthEstimate / 1000);
      if (options.ranges && sums.ranges.length) {
        beat.ranges = sums.ranges.map(function (range) { return [tenth(range[0]), tenth(range[1])]; });
      }
      if (seq === 1) {
        var from = "";
        try { from = document.referrer ? new URL(document.referrer).hostname : ""; } catch (e) { /* not a URL */ }
        if (from && from !== window.location.hostname) beat.referrer = from;
        if (document.body.classList.contains("embed")) beat.embed = true;
      }
      sums = fresh(sums.play - play, sums.rebuffer - rebuffer);  // the rounding is carried, not lost
      takenAt = performance.now();
      lastState = state;
      return beat;
    }

    // Nothing worth a beat since the last one, which said `state` already: a page going away fires
    // pagehide and visibilitychange a few milliseconds apart, and the second says nothing new.
    function quiet(state) {
      update();
      return state === lastState && sums.play < 500 && sums.rebuffer < 500 && !sums.rebuffers && !sums.errors &&
        startupMs === null && failure === null;
    }

    // A beat the server did not keep (Redis away, a refusal, no network): its deltas go back into
    // the counters and travel with the next beat. (A beat whose answer alone was lost is sent
    // twice: rarer on a phone than the request itself being lost.)
    function giveBack(beat) {
      sums.play += beat.play_ms || 0;
      sums.rebuffer += beat.rebuffer_ms || 0;
      sums.rebuffers += beat.rebuffers || 0;
      sums.errors += beat.errors || 0;
      if (beat.error && !sums.error) sums.error = beat.error;
      Object.keys(beat.renditions || {}).forEach(function (key) {
        sums.renditions[key] = (sums.renditions[key] || 0) + beat.renditions[key];
      });
      sums.upscale += beat.upscale_ms || 0;
      sums.frames += beat.frames || 0;
      sums.dropped += beat.dropped || 0;
      Object.keys(beat.by_rendition || {}).forEach(function (key) {
        var got = beat.by_rendition[key];
        var into = part(key);
        into.rebuffer += got.rebuffer_ms;
        into.upscale += got.upscale_ms;
        into.dropped += got.dropped;
        into.frames += got.frames;
      });
      if (beat.ranges) sums.ranges = beat.ranges.concat(sums.ranges).slice(0, MAX_RANGES);
      if (beat.startup_ms !== undefined && startupMs === null) startupMs = beat.startup_ms;
      if (beat.failed && failure === null) {
        failure = beat.failed;
        failureSaid = false;
      }
    }

    return {
      attach: attach, detach: detach, fatal: fatal, take: take, quiet: quiet, forgetStall: forgetStall,
      giveBack: giveBack,
      began: function () { return intentAt !== null; },
      started: function () { return started; },
      stalled: function () { return stall !== null; },
      lastState: function () { return lastState; }
    };
  }

  // One viewer per page, held in memory only (no cookie, no storage): a reload is a new view whose
  // beats count from 1 again (the server drops a viewer's repeated seq).
  function viewerId() {
    return Array.from(crypto.getRandomValues(new Uint8Array(12)),
      function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  // POST a beat (JSON; kept alive as the page goes away); resolves to the answer's JSON, or null.
  // A beat the server did not keep goes back into the meter: a failed request, an error status,
  // or `recorded: false` (the live heartbeat's answer while Redis is away).
  function post(url, meter, beat) {
    return fetch(url, { method: "POST", cache: "no-store", credentials: "same-origin", keepalive: true,
                        headers: { "Content-Type": "application/json", Accept: "application/json" },
                        body: JSON.stringify(beat) })
      .then(function (response) {
        if (!response.ok) {
          meter.giveBack(beat);
          return null;
        }
        return response.status === 204 ? {} : response.json();
      })
      .then(function (answer) {
        if (answer && answer.recorded === false) meter.giveBack(beat);
        return answer;
      })
      .catch(function () {
        meter.giveBack(beat);
        return null;
      });
  }

  // The last beat, as the page goes away: the browser sends it even after the page is gone.
  function beacon(url, meter, beat) {
    if (!navigator.sendBeacon(url, JSON.stringify(beat))) meter.giveBack(beat);
  }

  window.CascadeQoE = { meter: qoeMeter, viewerId: viewerId, post: post, beacon: beacon };
})();
