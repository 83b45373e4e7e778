// The header bell: listens on /notifications for this user's pushes, updates the unread badge and
// shows the server-rendered "is live" toast. Loaded (deferred) only for signed-in users.
(function () {
  "use strict";

  var bell = document.getElementById("notification-bell");
  if (!bell || typeof window.io !== "function") return;

  var TOAST_MS = 8000;

  function currentBell() {
    // "Mark all read" swaps the bell out of band, so look it up each time.
    return document.getElementById("notification-bell") || bell;
  }

  function setUnread(count) {
    var target = currentBell();
    var badge = target.querySelector("[data-unread-badge]");
    count = Math.max(0, parseInt(count, 10) || 0);
    if (badge) {
      badge.textContent = count > 99 ? "99+" : String(count);
      badge.hidden = count === 0;
    }
    target.setAttribute("aria-label", count ? "Notifications, " + count + " unread" : "Notifications");
  }

  // The live region exists before any toast arrives, so screen readers announce the first one too.
  var region = document.createElement("div");
  region.id = "toasts";
  region.className = "toasts";
  region.setAttribute("aria-live", "polite");
  document.body.appendChild(region);

  function showToast(html) {
    // The server rendered this fragment from a template (names escaped there); parse it inert.
    var parsed = new DOMParser().parseFromString(html, "text/html").body.firstElementChild;
    if (!parsed) return;
    region.appendChild(parsed);
    setTimeout(function () {
      parsed.classList.add("is-leaving");
      setTimeout(function () { parsed.remove(); }, 300);
    }, TOAST_MS);
  }

  var socket = window.io("/notifications", { transports: ["websocket", "polling"] });
  socket.on("notification", function (data) {
    if (!data) return;
    setUnread(data.unread);
    if (data.html) showToast(data.html);
  });
})();
