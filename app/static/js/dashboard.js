// The dashboard's live panel follows the stream as it changes: the server pushes the stream's status
// to the owner's sockets on /dashboard (app/live/owner.py) and the panel fetches itself again at
// once, instead of at its next poll (its slow poll stays as the fallback). A stream that turns live
// also wakes the preview player (player.js listens for cascade:stream-live).
(function () {
  "use strict";

  if (!document.getElementById("live-status") || typeof window.io !== "function") return;

  var socket = window.io("/dashboard", { transports: ["websocket", "polling"] });
  socket.on("stream", function (data) {
    var panel = document.getElementById("live-status");  // htmx swaps it: look it up each time
    var status = data && data.status;
    if (!panel || !status) return;
    if (status === "live") {
      document.dispatchEvent(new CustomEvent("cascade:stream-live", { detail: { channel: panel.dataset.channel } }));
    }
    if (status !== panel.dataset.status && window.htmx) window.htmx.trigger(panel, "cascade:stream-changed");
  });
})();
