// Muted live previews (the featured channel on a profile): <video data-live-preview data-hls-url>
// plays the stream at the smallest rendition over the channel's latest frame. Nothing plays for
// viewers who asked for reduced motion or data; any error hides the video and leaves the frame.
(function () {
  "use strict";

  function quiet() {
    var motion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    var data = navigator.connection && navigator.connection.saveData;
    return motion || data;
  }

  function start(video) {
    var url = video.dataset.hlsUrl;
    var hls = null;
    function give_up() {
      video.hidden = true;
      if (hls) hls.destroy();
    }
    video.addEventListener("playing", function () { video.hidden = false; });
    video.addEventListener("error", give_up);
    if (window.Hls && window.Hls.isSupported()) {
      var config = { lowLatencyMode: true, startLevel: 0, capLevelToPlayerSize: true,
                     maxBufferLength: 4, backBufferLength: 4 };
      if (video.dataset.hlsWorker) config.workerPath = video.dataset.hlsWorker;
      hls = new window.Hls(config);
      hls.on(window.Hls.Events.ERROR, function (_, data) { if (data.fatal) give_up(); });
      hls.loadSource(url);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = url;  // Safari plays HLS itself
    } else {
      return;
    }
    video.muted = true;
    var played = video.play();
    if (played && played.catch) played.catch(give_up);
  }

  function init() {
    if (quiet()) return;
    document.querySelectorAll("video[data-live-preview]").forEach(start);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
