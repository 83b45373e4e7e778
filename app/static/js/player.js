// The channel page's player: hls.js (or native HLS on Safari/iOS), and the switch between
// offline, starting and live without a reload, driven by /api/v1/channels/<slug>.
(function () {
  "use strict";

  var frame = document.querySelector("[data-player]");
  if (!frame) return;

  var OFFLINE_POLL_MS = 3000;   // how soon a stream that begins shows up
  var STARTING_POLL_MS = 1000;  // how soon a starting stream plays once it is announced live
  var HEARTBEAT_MS = 10000;     // the viewer count's heartbeat while watching (the server forgets after 25 s)
  var STALL_CHECK_MS = 2500;    // a stalled or failed player asks whether the stream ended
  // A stream that fails to open is asked for again after 1, 2, 4, 8, 8… s (jittered, so a crowd
  // does not retry in step), never at once: a missing playlist answers 404 in a millisecond, and
  // re-opening on every answer asked the server dozens of times a second. Reset once playing.
  var RETRY_FIRST_MS = 1000;
  var RETRY_MAX_MS = 8000;

  var video = frame.querySelector("video");
  var livePane = frame.querySelector("[data-player-live]");
  var offlinePane = frame.querySelector("[data-player-offline]");
  var viewers = frame.querySelector("[data-viewers]");
  var quality = frame.querySelector("[data-quality]");
  var qualityWrap = frame.querySelector("[data-quality-wrap]");
  var unmute = frame.querySelector("[data-unmute]");
  var unmuteLabel = frame.querySelector("[data-unmute-label]");
  var message = frame.querySelector("[data-player-message]");
  var offlineTexts = frame.querySelectorAll("[data-offline-text]");
  var startingText = frame.querySelector("[data-starting-text]");
  var pill = document.querySelector("[data-status-pill]");

  // One viewer per page, in memory only (js/qoe.js); the page that went away said "ended".
  var QoE = window.CascadeQoE;
  var viewerId = QoE.viewerId();

  var current = null;   // the hls_url playing now, "" while re-opening it, null when not live
  var starting = frame.dataset.streamStatus === "starting";  // a publisher is on, nothing playable yet
  var hls = null;
  var timer = null;
  var failures = 0;     // failed opens since the stream last played: the next retry's back-off
  var reopens = 0;      // bumped by each reconnect: answers to questions asked before it are stale

  function schedule(fn, ms) {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  }

  function request(method) {
    if (method === "POST") return QoE.post(frame.dataset.watchUrl, meter, beatOf(playerState()));
    return fetch(frame.dataset.statusUrl, { cache: "no-store", credentials: "same-origin",
                                            headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .catch(function () { return null; });
  }

  // Ask the API what the channel is doing now and follow it; then plan the next question.
  function check(method) {
    var asked = reopens;
    request(method || "GET").then(function (status) {
      if (asked !== reopens) return;  // the stream failed meanwhile: reconnect() asks again, later
      if (status) apply(status);
      if (current === "") schedule(check, retryDelay());  // the API did not answer either
      else if (!current) schedule(check, starting ? STARTING_POLL_MS : OFFLINE_POLL_MS);
      else if (isStalled()) schedule(check, STALL_CHECK_MS);
      else schedule(beat, HEARTBEAT_MS);
    });
  }

  // A preview (the creator's own, on the dashboard) only asks: it is not a viewer to count.
  var preview = frame.hasAttribute("data-preview");
  function beat() { check(preview ? "GET" : "POST"); }
  var meter = QoE.meter(video, { live: true });

  // What the heartbeat says this player is doing: only playing, starting and rebuffering count
  // as watching (a paused tab is not a viewer); the page's token lets the beat count at all.
  var hasPlayed = false;
  function playerState() {
    if (!current) return "ended";
    if (video.paused) return hasPlayed ? "paused" : "starting";
    if (video.readyState < 3) return hasPlayed ? "rebuffering" : "starting";
    return "playing";
  }
  // The beat also says what the viewer got since the previous one (the meter, js/qoe.js).
  var beatAt = -Infinity;
  function beatOf(state) {
    var body = meter.take(state);
    body.viewer = viewerId;
    body.token = frame.dataset.viewerToken || "";
    body.state = state;
    beatAt = performance.now();
    return body;
  }
  // Pausing or playing is said at once, not at the next beat; leaving the page too, by a beacon
  // the browser sends even as the page goes away. A phone may drop a hidden page without a
  // pagehide, so hiding it says "ended" too, and coming back (still playing) says so at once.
  function tell(state) {
    if (preview || !current) return;
    QoE.post(frame.dataset.watchUrl, meter, beatOf(state));
  }
  function leave() {
    if (preview || !navigator.sendBeacon || !(current || meter.began()) || meter.quiet("ended")) return;
    QoE.beacon(frame.dataset.watchUrl, meter, beatOf("ended"));
  }
  window.addEventListener("pagehide", leave);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") leave();
    else if (meter.lastState() === "ended" && current && !video.paused) tell(playerState());
  });

  // Pushed over the chat socket when the stream becomes playable: ask now, not at the next poll
  // (also from the offline card, whose poll is slower and may not have seen "starting" yet).
  document.addEventListener("cascade:stream-live", function () {
    if (current === null) check();
  });

  function apply(status) {
    if (typeof status.viewers === "number") viewers.textContent = String(status.viewers);
    if (status.live && status.hls_url) {
      if (status.hls_url !== current) showLive(status.hls_url);
    } else if (status.status === "starting") {
      if (current !== null || !starting) showCard(true);
    } else if (current !== null || starting) {
      showCard(false);  // offline, or the publisher left and may come back: the card either way
    }
  }

  function isStalled() {
    return video.ended || video.error !== null || (!video.paused && video.readyState < 3);
  }

  var PILLS = { live: "Live", starting: "Starting", offline: "Offline" };

  function setPill(state) {
    if (!pill) return;
    pill.textContent = PILLS[state];
    Object.keys(PILLS).forEach(function (name) { pill.classList.toggle("status-" + name, name === state); });
  }

  function showLive(url) {
    stop();
    current = url;
    starting = false;
    frame.classList.add("is-live");
    frame.classList.remove("is-offline", "is-starting");
    livePane.hidden = false;
    offlinePane.hidden = true;
    setPill("live");
    say("");
    if (window.Hls && window.Hls.isSupported()) {
      // Low-latency mode follows parts and blocking reloads when the playlist offers them; a
      // little faster playback (at most 1.1x, unnoticeable) wins back the target latency after
      // a hiccup instead of staying behind. hls.js retries a failed load itself, twice, after 1 s
      // then 2 s (never a 4xx: that one is fatal at once and comes to onHlsError).
      var config = { lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.1, backBufferLength: 30,
                     manifestLoadPolicy: loadPolicy(), playlistLoadPolicy: loadPolicy() };
      if (frame.dataset.hlsWorker) config.workerPath = frame.dataset.hlsWorker;
      // CMCD in the query (headers would need a CORS preflight from a CDN): nginx logs it.
      if (!preview) {
        config.cmcd = { sessionId: viewerId };
        if (frame.dataset.contentId) config.cmcd.contentId = frame.dataset.contentId;
      }
      hls = new window.Hls(config);
      hls.on(window.Hls.Events.MANIFEST_PARSED, fillQualities);
      hls.on(window.Hls.Events.LEVEL_SWITCHED, labelAuto);
      hls.on(window.Hls.Events.ERROR, onHlsError);
      meter.attach(hls);
      hls.loadSource(url);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = url;  // Safari and iOS play HLS themselves; they pick the quality too
    } else {
      say("This browser can't play live video. Try a current Firefox, Chrome or Safari.");
      return;
    }
    play();
  }

  function loadPolicy() {
    function retry() {
      return { maxNumRetry: 2, retryDelayMs: RETRY_FIRST_MS, maxRetryDelayMs: RETRY_MAX_MS, backoff: "exponential" };
    }
    return { "default": { maxTimeToFirstByteMs: 10000, maxLoadTimeMs: 20000,
                          timeoutRetry: retry(), errorRetry: retry() } };
  }

  // The card instead of the video: the channel is offline, or starting (the card says so).
  function showCard(isStarting) {
    meter.forgetStall();
    stop();
    current = null;
    failures = 0;
    starting = isStarting;
    frame.classList.remove("is-live");
    frame.classList.toggle("is-offline", !isStarting);
    frame.classList.toggle("is-starting", isStarting);
    livePane.hidden = true;
    offlinePane.hidden = false;
    Array.prototype.forEach.call(offlineTexts, function (text) { text.hidden = isStarting; });
    startingText.hidden = !isStarting;
    setPill(isStarting ? "starting" : "offline");
    viewers.textContent = "0";
  }

  function stop() {
    if (hls) { meter.detach(); hls.destroy(); hls = null; }
    video.removeAttribute("src");
    video.load();
    quality.length = 1;
    quality.value = "-1";
    qualityWrap.hidden = true;
  }

  // Sound, remembered in this browser: pages start muted (browsers refuse autoplay with sound
  // without a gesture), and a viewer who last listened with sound gets it back where the browser
  // allows it: playback is tried with sound first, then muted, which is not remembered as a choice.
  var SOUND_KEY = "cascade-player-sound";
  var volume = frame.querySelector("[data-volume]");
  var sound = {};
  // A preview always starts muted, whatever the viewer's choice on channel pages.
  try { if (!preview) sound = JSON.parse(localStorage.getItem(SOUND_KEY)) || {}; } catch (e) { /* private mode */ }
  if (typeof sound.volume === "number" && sound.volume >= 0 && sound.volume <= 1) video.volume = sound.volume;
  var wantsSound = sound.muted === false;
  var mutedByBrowser = false;

  function play() {
    if (wantsSound && video.muted && !mutedByBrowser) video.muted = false;
    var started = video.play();
    if (started && started.catch) started.catch(function () {
      if (video.muted) return;  // autoplay refused altogether: the controls stay
      mutedByBrowser = true;
      video.muted = true;
      video.play().catch(function () {});
    });
  }

  function say(text) {
    message.textContent = text;
    message.hidden = !text;
  }

  function fillQualities() {
    quality.length = 1;
    var seen = {};
    hls.levels.map(function (level, index) { return { level: level, index: index }; })
      .sort(function (a, b) { return (b.level.height - a.level.height) || (b.level.bitrate - a.level.bitrate); })
      .forEach(function (item) {
        var label = item.level.height ? item.level.height + "p" : Math.round(item.level.bitrate / 1000) + " kbps";
        if (seen[label]) label += " (" + Math.round(item.level.bitrate / 1000) + " kbps)";
        seen[label] = true;
        quality.add(new Option(label, String(item.index)));
      });
    qualityWrap.hidden = hls.levels.length < 2;
    play();
  }

  function labelAuto(event, data) {
    var level = hls && hls.levels[data.level];
    quality.options[0].textContent = hls.autoLevelEnabled && level && level.height ? "Auto (" + level.height + "p)" : "Auto";
  }

  function onHlsError(event, data) {
    if (!data.fatal) return;
    if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) {
      hls.recoverMediaError();
      return;
    }
    reconnect();
  }

  // Usually the stream ended: playlists and segments stop existing. Ask rather than guess, after
  // a back-off that grows while the stream keeps failing.
  function reconnect() {
    say("Reconnecting…");
    current = "";  // a live answer re-opens the stream from scratch
    reopens += 1;
    schedule(check, retryDelay());
  }

  function retryDelay() {
    var delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * Math.pow(2, failures));
    failures += 1;
    return Math.max(RETRY_FIRST_MS, delay * (0.8 + 0.4 * Math.random()));
  }

  quality.addEventListener("change", function () {
    if (hls) hls.currentLevel = parseInt(quality.value, 10);
    if (quality.value === "-1") quality.options[0].textContent = "Auto";
  });

  // Full screen on the player box, so our controls stay on top; iOS only lets the video itself go.
  var fullscreen = frame.querySelector("[data-fullscreen]");
  var box = frame.querySelector("[data-player-live]");
  fullscreen.addEventListener("click", function () {
    if (document.fullscreenElement) {
      document.exitFullscreen();
    } else if (box.requestFullscreen) {
      box.requestFullscreen().catch(function () {});
    } else if (video.webkitEnterFullscreen) {
      video.webkitEnterFullscreen();
    }
  });

  unmute.addEventListener("click", function () {
    video.muted = !video.muted;
    wantsSound = !video.muted;
    mutedByBrowser = false;
    if (!video.muted && video.volume === 0) video.volume = 0.5;
    if (!video.muted) play();
  });
  volume.addEventListener("input", function () {
    video.volume = parseFloat(volume.value);
    video.muted = video.volume === 0;
    wantsSound = !video.muted;
    mutedByBrowser = false;
  });
  function showSound() {
    unmuteLabel.textContent = video.muted ? "Unmute" : "Mute";
    unmute.setAttribute("aria-pressed", String(!video.muted));
    unmute.classList.toggle("is-unmuted", !video.muted);
    volume.value = String(video.muted ? 0 : video.volume);
    volume.setAttribute("aria-valuetext", video.muted ? "muted" : Math.round(video.volume * 100) + "%");
  }
  video.addEventListener("volumechange", function () {
    showSound();
    if (mutedByBrowser || preview) return;  // the browser's refusal, or the preview: not a choice to keep
    try {
      localStorage.setItem(SOUND_KEY, JSON.stringify({ muted: video.muted, volume: video.volume }));
    } catch (e) { /* private mode */ }
  });
  showSound();

  // A stream that stops stalls the player first; check soon instead of at the next heartbeat.
  // While re-opening (current is "") the back-off decides when to ask.
  ["waiting", "stalled", "ended", "error"].forEach(function (name) {
    video.addEventListener(name, function () {
      if (!current) return;
      if (name === "error" && !hls) {  // native HLS: a failed load says only this
        meter.fatal("media_error_" + (video.error ? video.error.code : 0));
        reconnect();
      } else {
        schedule(check, name === "ended" ? 0 : STALL_CHECK_MS);
      }
    });
  });
  // Playing again after a pause is said at once; after a rebuffer only when the last beat is a
  // beat old (none goes out while stalled), so a stream that stalls often stays within the
  // server's 20 beats a minute and no beat (with its deltas) is refused.
  var pausedSinceBeat = false;
  video.addEventListener("playing", function () {
    say("");
    failures = 0;
    var resumed = hasPlayed;
    hasPlayed = true;
    if (resumed && (pausedSinceBeat || performance.now() - beatAt >= HEARTBEAT_MS)) tell("playing");
    pausedSinceBeat = false;
    if (current) schedule(beat, HEARTBEAT_MS);
  });
  video.addEventListener("pause", function () {
    if (hasPlayed && !video.ended) {
      pausedSinceBeat = true;
      tell("paused");
    }
  });

  // "Stats for nerds": what the player sees, once a second while the overlay is open.
  var STATS_KEY = "cascade-player-stats";
  var statsToggle = frame.querySelector("[data-stats-toggle]");
  var statsBox = frame.querySelector("[data-player-stats]");
  var statsTimer = null;

  function stat(name, text) {
    statsBox.querySelector('[data-stat="' + name + '"]').textContent = text;
  }
  function kbps(bits) {
    return bits >= 1e6 ? (bits / 1e6).toFixed(2) + " Mbps" : Math.round(bits / 1000) + " kbps";
  }
  function bufferAhead() {
    var ranges = video.buffered;
    for (var i = 0; i < ranges.length; i++) {
      if (ranges.start(i) <= video.currentTime + 0.1 && video.currentTime <= ranges.end(i)) {
        return ranges.end(i) - video.currentTime;
      }
    }
    return 0;
  }
  function updateStats() {
    var level = hls && hls.levels[hls.currentLevel];
    var details = hls && hls.latestLevelDetails;
    stat("latency", hls && hls.latency ? hls.latency.toFixed(2) + " s behind live" +
         (hls.targetLatency ? " (target " + hls.targetLatency.toFixed(1) + " s)" : "") : "–");
    stat("level", level ? (level.width + "×" + level.height +
         (level.frameRate ? " @ " + Math.round(level.frameRate) : "") + " (" + (hls.currentLevel + 1) + "/" +
         hls.levels.length + (hls.autoLevelEnabled ? ", auto" : "") + ")") :
         (video.videoHeight ? video.videoWidth + "×" + video.videoHeight : "–"));
    stat("bitrate", level ? kbps(level.bitrate) : "–");
    stat("bandwidth", hls && hls.bandwidthEstimate ? kbps(hls.bandwidthEstimate) + " estimated" : "–");
    stat("buffer", bufferAhead().toFixed(2) + " s");
    var quality = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
    stat("dropped", quality ? quality.droppedVideoFrames + " of " + quality.totalVideoFrames + " frames" : "–");
    stat("mode", !hls ? (current ? "native HLS" : "–") :
         details && details.partList && details.partList.length ? "LL-HLS (parts)" : "HLS");
  }
  function showStats(open) {
    statsBox.hidden = !open;
    statsToggle.setAttribute("aria-pressed", String(open));
    clearInterval(statsTimer);
    if (open) { updateStats(); statsTimer = setInterval(updateStats, 1000); }
    try { localStorage.setItem(STATS_KEY, open ? "1" : "0"); } catch (e) { /* private mode */ }
  }
  statsToggle.addEventListener("click", function () { showStats(statsBox.hidden); });
  try { if (localStorage.getItem(STATS_KEY) === "1") showStats(true); } catch (e) { /* private mode */ }

  // Theatre mode (the channel page on wide screens): the player fills the window beside a
  // full-height chat. The button, or `t`, toggles it; Escape leaves; this browser remembers it.
  var THEATRE_KEY = "cascade-theatre";
  var theatre = frame.querySelector("[data-theatre]");
  var wide = window.matchMedia("(min-width: 1000px)");

  function setTheatre(on, remember) {
    document.body.classList.toggle("is-theatre", on);
    theatre.setAttribute("aria-pressed", String(on));
    theatre.title = on ? "Leave theatre mode (t)" : "Theatre mode (t)";
    if (!remember) return;
    try { localStorage.setItem(THEATRE_KEY, on ? "1" : "0"); } catch (e) { /* private mode */ }
  }
  function typingIn(target) {
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
  }
  if (theatre) {
    theatre.addEventListener("click", function () {
      setTheatre(!document.body.classList.contains("is-theatre"), true);
    });
    document.addEventListener("keydown", function (event) {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typingIn(event.target)) return;
      var on = document.body.classList.contains("is-theatre");
      if ((event.key === "t" || event.key === "T") && wide.matches) {
        setTheatre(!on, true);
      } else if (event.key === "Escape" && on && !event.target.closest("dialog, details.menu")) {
        setTheatre(false, true);
      }
    });
    try { if (localStorage.getItem(THEATRE_KEY) === "1") setTheatre(true, false); } catch (e) { /* private mode */ }
  }

  if (frame.dataset.live === "true" && frame.dataset.hlsUrl) {
    showLive(frame.dataset.hlsUrl);
    beat();  // counts this viewer at once
  } else {
    schedule(check, starting ? STARTING_POLL_MS : OFFLINE_POLL_MS);
  }
})();
