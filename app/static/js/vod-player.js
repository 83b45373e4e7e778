// The watch page: hls.js (native HLS on Safari/iOS) on a recorded broadcast, seek previews from
// its WebVTT sprite track, chat replay lined up with playback by wall-clock time, and heartbeats
// saying what the viewer got (quality of experience).
(function () {
  "use strict";

  var frame = document.querySelector("[data-vod-player]");
  if (!frame) return;

  var video = frame.querySelector("video");
  var seek = frame.querySelector("[data-seek]");
  var seekWrap = frame.querySelector("[data-seek-wrap]");
  var preview = frame.querySelector("[data-preview]");
  var tile = frame.querySelector("[data-preview-tile]");
  var previewTime = frame.querySelector("[data-preview-time]");
  var playButton = frame.querySelector("[data-play]");
  var bigPlay = frame.querySelector("[data-big-play]");
  var unmute = frame.querySelector("[data-unmute]");
  var currentLabel = frame.querySelector("[data-current]");
  var totalLabel = frame.querySelector("[data-total]");
  var quality = frame.querySelector("[data-quality]");
  var qualityWrap = frame.querySelector("[data-quality-wrap]");
  var message = frame.querySelector("[data-player-message]");

  var duration = parseFloat(frame.dataset.duration) || 0;
  var startedAt = Date.parse(frame.dataset.startedAt) || 0;
  var hls = null;

  function clock(seconds) {
    var total = Math.max(0, Math.floor(seconds || 0));
    var h = Math.floor(total / 3600), m = Math.floor(total / 60) % 60, s = total % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  function say(text) {
    message.textContent = text;
    message.hidden = !text;
  }

  // --- playback ----------------------------------------------------------------------------------

  function start() {
    var src = frame.dataset.src;
    if (window.Hls && window.Hls.isSupported()) {
      var config = { backBufferLength: 90 };
      if (frame.dataset.hlsWorker) config.workerPath = frame.dataset.hlsWorker;
      // CMCD in the query (headers would need a CORS preflight from a CDN): nginx logs it.
      config.cmcd = { sessionId: viewerId };
      if (frame.dataset.contentId) config.cmcd.contentId = frame.dataset.contentId;
      hls = new window.Hls(config);
      hls.on(window.Hls.Events.MANIFEST_PARSED, fillQualities);
      hls.on(window.Hls.Events.ERROR, onHlsError);
      meter.attach(hls);
      hls.loadSource(src);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = src;  // Safari and iOS play HLS themselves
    } else {
      say("This browser can't play this video. Try a current Firefox, Chrome or Safari.");
      return;
    }
    play();
  }

  // Browsers refuse autoplay with sound: then start muted, and the mute button says so.
  function play() {
    var started = video.play();
    if (started && started.catch) {
      started.catch(function () {
        if (video.muted) return;
        video.muted = true;
        video.play().catch(function () { /* needs a click: the big play button stays */ });
      });
    }
  }

  function onHlsError(event, data) {
    if (!data.fatal) return;
    if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) {
      hls.recoverMediaError();
      return;
    }
    say("This video couldn't be loaded. Reload the page to try again.");
  }

  function fillQualities() {
    quality.length = 1;
    hls.levels.map(function (level, index) { return { level: level, index: index }; })
      .sort(function (a, b) { return (b.level.height - a.level.height) || (b.level.bitrate - a.level.bitrate); })
      .forEach(function (item) {
        var label = item.level.height ? item.level.height + "p" : Math.round(item.level.bitrate / 1000) + " kbps";
        quality.add(new Option(label, String(item.index)));
      });
    qualityWrap.hidden = hls.levels.length < 2;
  }
  quality.addEventListener("change", function () {
    if (hls) hls.currentLevel = parseInt(quality.value, 10);
  });

  function togglePlay() {
    if (video.paused || video.ended) play(); else video.pause();
  }
  playButton.addEventListener("click", togglePlay);
  bigPlay.addEventListener("click", togglePlay);
  video.addEventListener("click", togglePlay);

  function showPlaying() {
    var playing = !video.paused && !video.ended;
    frame.classList.toggle("is-playing", playing);
    playButton.setAttribute("aria-label", playing ? "Pause" : "Play");
    playButton.title = playing ? "Pause (k)" : "Play (k)";
    bigPlay.hidden = playing || video.currentTime > 0;
  }
  ["play", "playing", "pause", "ended"].forEach(function (name) { video.addEventListener(name, showPlaying); });
  video.addEventListener("playing", function () { say(""); });
  video.addEventListener("error", function () {
    if (!hls) meter.fatal("media_error_" + (video.error ? video.error.code : 0));  // native HLS
  });

  unmute.addEventListener("click", function () {
    video.muted = !video.muted;
    if (!video.muted && video.volume === 0) video.volume = 1;
  });
  function showMuted() {
    unmute.classList.toggle("is-unmuted", !video.muted);
    unmute.setAttribute("aria-pressed", String(video.muted));
    unmute.setAttribute("aria-label", video.muted ? "Unmute" : "Mute");
    unmute.title = video.muted ? "Unmute (m)" : "Mute (m)";
  }
  video.addEventListener("volumechange", showMuted);

  // Full screen on the frame, so our controls and previews stay on top; iOS only lets the video go.
  frame.querySelector("[data-fullscreen]").addEventListener("click", function () {
    if (document.fullscreenElement) {
      document.exitFullscreen();
    } else if (frame.requestFullscreen) {
      frame.requestFullscreen().catch(function () {});
    } else if (video.webkitEnterFullscreen) {
      video.webkitEnterFullscreen();
    }
  });

  frame.addEventListener("keydown", function (event) {
    if (event.target.closest("select, input:not([data-seek])") || event.ctrlKey || event.metaKey || event.altKey) return;
    var key = event.key.toLowerCase();
    if (key === "k" || (key === " " && event.target === seek)) { togglePlay(); }
    else if (key === "m") { unmute.click(); }
    else if (key === "f") { frame.querySelector("[data-fullscreen]").click(); }
    else if (key === "arrowleft" || key === "arrowright") { seekTo(video.currentTime + (key === "arrowleft" ? -5 : 5)); }
    else return;
    event.preventDefault();
  });

  // --- heartbeats --------------------------------------------------------------------------------
  // What the viewer got (the meter below): a beat as playback is asked for, every 10 s while it
  // plays, at once on pause, resume and the video's end, and a beacon as the page goes away or is
  // hidden (a phone may drop a hidden page without a pagehide).
  var HEARTBEAT_MS = 10000;
  // One viewer per page, in memory only; the meter is js/qoe.js's.
  var QoE = window.CascadeQoE;
  var viewerId = QoE.viewerId();
  var meter = QoE.meter(video, { ranges: true });
  var beatTimer = null;

  function playerState() {
    if (video.ended) return "ended";
    if (!meter.started()) return "starting";
    if (video.paused) return "paused";
    return meter.stalled() ? "rebuffering" : "playing";
  }

  function beatOf(state) {
    var body = meter.take(state);
    body.viewer = viewerId;
    body.token = frame.dataset.viewerToken || "";
    body.state = state;
    return body;
  }

  function beat() {
    clearTimeout(beatTimer);
    beatTimer = null;
    if (!frame.dataset.watchUrl) return;
    QoE.post(frame.dataset.watchUrl, meter, beatOf(playerState()));
    if (!video.paused && !video.ended) beatTimer = setTimeout(beat, HEARTBEAT_MS);
  }

  function leave() {
    if (!frame.dataset.watchUrl || !navigator.sendBeacon || !meter.began() || meter.quiet("ended")) return;
    QoE.beacon(frame.dataset.watchUrl, meter, beatOf("ended"));
  }

  video.addEventListener("play", beat);
  video.addEventListener("pause", function () { if (!video.ended) beat(); });
  video.addEventListener("ended", beat);
  window.addEventListener("pagehide", leave);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") leave();
    else if (meter.lastState() === "ended" && !video.paused && !video.ended) beat();
  });

  // --- the seek bar ------------------------------------------------------------------------------

  var scrubbing = false;

  function knownDuration() {
    return isFinite(video.duration) && video.duration > 0 ? video.duration : duration;
  }

  function seekTo(seconds) {
    video.currentTime = Math.min(Math.max(0, seconds), knownDuration());
  }

  function showTime() {
    var total = knownDuration();
    var now = scrubbing ? parseFloat(seek.value) : video.currentTime;
    if (!scrubbing) seek.value = String(now);
    seek.max = String(total);
    currentLabel.textContent = clock(now);
    // The length as the page's title line gives it (the recording's, rounded), not the
    // playlist's few milliseconds either side of it.
    var length = clock(Math.round(duration || total));
    totalLabel.textContent = length;
    seek.setAttribute("aria-valuetext", clock(now) + " of " + length);
    // The played part of the track is drawn by CSS from this property (the CSP allows CSSOM).
    seek.style.setProperty("--played", (total ? (now / total) * 100 : 0).toFixed(2) + "%");
  }
  ["timeupdate", "durationchange", "loadedmetadata", "seeking"].forEach(function (name) {
    video.addEventListener(name, showTime);
  });

  seek.addEventListener("input", function () {
    scrubbing = true;
    showTime();
    var total = knownDuration();
    if (total) showPreview(parseFloat(seek.value) / total);
  });
  seek.addEventListener("change", function () {
    scrubbing = false;
    seekTo(parseFloat(seek.value));
    if (!hovering) hidePreview();
  });

  // Seek previews: the sprite tile of the pointed-at time, cut out by background position.
  var cues = [];
  var hovering = false;

  function vttTime(text) {
    var parts = text.split(":").map(parseFloat);
    return parts.reduce(function (total, part) { return total * 60 + part; }, 0);
  }

  function parseThumbnails(text, base) {
    var found = [];
    text.replace(/\r/g, "").split(/\n{2,}/).forEach(function (block) {
      var lines = block.split("\n");
      for (var i = 0; i < lines.length - 1; i++) {
        var times = lines[i].match(/^\s*([\d:.]+)\s+-->\s+([\d:.]+)/);
        if (!times) continue;
        var target = lines[i + 1].trim().split("#xywh=");
        var box = (target[1] || "").split(",").map(Number);
        if (box.length !== 4 || box.some(isNaN)) return;
        found.push({ start: vttTime(times[1]), end: vttTime(times[2]), url: new URL(target[0], base).href,
                     x: box[0], y: box[1], w: box[2], h: box[3] });
        return;
      }
    });
    return found;
  }

  function loadThumbnails() {
    if (!frame.dataset.thumbnails) return;
    var base = new URL(frame.dataset.thumbnails, window.location.href).href;
    fetch(base, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (text) {
        cues = parseThumbnails(text, base);
        var seen = {};
        cues.forEach(function (cue) {  // fetch each sprite once, before the first hover needs it
          if (!seen[cue.url]) { seen[cue.url] = true; new Image().src = cue.url; }
        });
      })
      .catch(function () { cues = []; });
  }

  function cueAt(seconds) {
    for (var i = 0; i < cues.length; i++) {
      if (seconds >= cues[i].start && seconds < cues[i].end) return cues[i];
    }
    return cues.length && seconds >= cues[cues.length - 1].start ? cues[cues.length - 1] : null;
  }

  function showPreview(fraction) {
    fraction = Math.min(Math.max(fraction, 0), 1);
    var seconds = fraction * knownDuration();
    var cue = cueAt(seconds);
    previewTime.textContent = clock(seconds);
    tile.hidden = !cue;
    if (cue) {
      tile.style.backgroundImage = 'url("' + cue.url.replace(/"/g, "%22") + '")';
      tile.style.backgroundPosition = (-cue.x) + "px " + (-cue.y) + "px";
      tile.style.width = cue.w + "px";
      tile.style.height = cue.h + "px";
    }
    preview.hidden = false;
    var width = seekWrap.clientWidth;
    var half = preview.offsetWidth / 2;
    var left = Math.min(Math.max(fraction * width, half), Math.max(half, width - half));
    preview.style.left = left + "px";
  }

  function hidePreview() { preview.hidden = true; }

  seekWrap.addEventListener("pointermove", function (event) {
    hovering = true;
    var box = seek.getBoundingClientRect();
    if (box.width) showPreview((event.clientX - box.left) / box.width);
  });
  seekWrap.addEventListener("pointerleave", function () {
    hovering = false;
    if (!scrubbing) hidePreview();
  });

  // --- chat replay -------------------------------------------------------------------------------

  var replay = document.querySelector("[data-chat-replay]");
  var list = replay && replay.querySelector("[data-replay-list]");
  var empty = replay && replay.querySelector("[data-replay-empty]");
  var chatUrl = frame.dataset.chatUrl;

  var WINDOW_MS = 60000;     // the server hands out at most a minute of chat per request
  var AHEAD_MS = 20000;      // ask for the next minute this long before it is needed
  var LIMIT = 500;           // the server's most messages per answer
  var MAX_LINES = 250;       // older lines leave the panel, as in live chat
  var RETRY_MS = 5000;

  var queue = [];            // fetched messages not shown yet, oldest first
  var seen = {};
  var loadedFrom = null;     // wall-clock ms from which chat has been fetched since the last restart
  var loadedUntil = null;    // ... and up to which
  var loading = false;
  var retryAt = 0;
  var generation = 0;        // answers to requests made before a seek are dropped
  var offset = null;         // wall clock minus media time, from the playlist's program date-time
  var shownUntil = null;     // the wall clock at the last tick: lines said up to it are on screen

  // The media playlist hls.js has loaded, or null before it has one.
  function playlistDetails() {
    if (!hls) return null;
    if (hls.latestLevelDetails) return hls.latestLevelDetails;
    var level = hls.levels && hls.levels[Math.max(hls.currentLevel, 0)];
    return (level && level.details) || null;
  }

  // Where playback is in the broadcast's own time: the playlist's EXT-X-PROGRAM-DATE-TIME (hls.js:
  // the playing fragment's, or before one plays the first fragment's, so the clock never jumps
  // from a guess to the playlist's dates), Safari's start date, or else the recording's start plus
  // the position.
  function wallClock() {
    var media = video.currentTime * 1000;
    var date = hls && hls.playingDate;
    if (date && !isNaN(date.getTime())) {
      offset = date.getTime() - media;
      return date.getTime();
    }
    var details = playlistDetails();
    var first = details && details.fragments && details.fragments[0];
    if (first && first.programDateTime) {
      offset = first.programDateTime - first.start * 1000;
      return offset + media;
    }
    if (offset !== null) return offset + media;
    if (video.getStartDate) {
      var start = video.getStartDate();
      if (start && !isNaN(start.getTime())) return start.getTime() + media;
    }
    return startedAt + media;
  }

  function iso(ms) { return encodeURIComponent(new Date(ms).toISOString()); }

  // From a (re)start: the last messages said up to `atMs`, however long ago (the server's few),
  // so a seek lands in the conversation; from then on, a minute at a time.
  function loadContext(atMs) {
    fetchReplay(chatUrl + "?before=" + iso(atMs), function () { return atMs; });
  }

  function load(fromMs) {
    var untilMs = fromMs + WINDOW_MS;
    fetchReplay(chatUrl + "?after=" + iso(fromMs) + "&until=" + iso(untilMs), function (items) {
      // A full answer may have stopped inside the window: go on from its last message.
      var last = items.length >= LIMIT ? items[items.length - 1].at : untilMs;
      return last > fromMs ? last : untilMs;
    });
  }

  function fetchReplay(url, loadedTo) {
    var asked = generation;
    loading = true;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("chat replay answered " + response.status);
        return response.json();
      })
      .then(function (body) {
        if (asked !== generation) return;
        var items = body.items || [];
        items.forEach(function (item) {
          if (seen[item.id]) return;
          seen[item.id] = true;
          item.at = Date.parse(item.ts);
          queue.push(item);
        });
        loadedUntil = loadedTo(items);
      })
      .catch(function () { if (asked === generation) retryAt = Date.now() + RETRY_MS; })
      .then(function () {
        if (asked === generation) loading = false;
      });
  }

  function stickToBottom(fn) {
    var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
    fn();
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function append(item) {
    var holder = document.createElement("template");
    holder.innerHTML = item.html.trim();  // rendered and escaped by the server's chat fragment
    var line = holder.content.firstElementChild;
    if (!line) return;
    line.dataset.ts = item.ts;
    list.appendChild(line);
    while (list.children.length > MAX_LINES) list.removeChild(list.firstElementChild);
  }

  function tick() {
    // With hls.js, wait for its playlist: until then the clock would be a guess, and lines shown
    // by it would be taken off and shown again once the playlist's dates are known.
    if (!list || (hls && !playlistDetails())) return;
    var now = wallClock();
    // The clock jumped outside what was fetched: the player found the playlist's program
    // date-time (the recording's start time was only a guess), or it moved without a seek event.
    if (loadedUntil !== null && (now < loadedFrom || now > loadedUntil + WINDOW_MS)) restartReplay();
    if (!loading && Date.now() >= retryAt) {
      if (loadedUntil === null) { loadedFrom = now - 2000; loadContext(now); }
      else if (loadedUntil - now < AHEAD_MS) load(loadedUntil);
    }
    if (queue.length && queue[0].at <= now) {
      stickToBottom(function () {
        while (queue.length && queue[0].at <= now) append(queue.shift());
      });
      empty.hidden = true;
    }
    shownUntil = now;
  }

  // A seek back, or past what was fetched, starts the panel again from the new position. A step
  // forward within it (hls.js nudging the playhead over a gap or a stall, a short skip) keeps the
  // panel: the next tick shows the lines it passed, in order, as a longer seek would.
  function restartReplay() {
    if (!list) return;
    generation += 1;
    queue = [];
    seen = {};
    loadedFrom = loadedUntil = shownUntil = null;
    loading = false;
    retryAt = 0;
    list.replaceChildren();
    empty.hidden = false;
  }
  video.addEventListener("seeking", function () {
    var now = wallClock();
    if (shownUntil === null || loadedUntil === null || now < shownUntil || now > loadedUntil) restartReplay();
    tick();
  });
  video.addEventListener("timeupdate", tick);
  setInterval(tick, 250);

  showTime();
  showMuted();
  loadThumbnails();
  start();
  tick();
})();
