// Chat panel glue: Socket.IO /chat, server-rendered message fragments, mod tools through htmx.
(function () {
  "use strict";

  var root = document.querySelector("[data-chat]");
  if (!root || typeof window.io !== "function") return;

  var MAX_LINES = 250;
  var SEND_TIMEOUT_MS = 8000;
  var MUTE_STORE = "cascade:chat-muted";
  var channel = root.getAttribute("data-channel");
  var userId = root.getAttribute("data-user-id");
  var list = root.querySelector("[data-chat-list]");
  var empty = root.querySelector("[data-chat-empty]");
  var more = root.querySelector("[data-chat-more]");
  var statusLine = root.querySelector("[data-chat-status]");
  var form = root.querySelector("[data-chat-form]");
  var input = root.querySelector("[data-chat-input]");
  var sendButton = root.querySelector("[data-chat-send]");
  var heldBox = root.querySelector("[data-chat-held]");
  var heldList = root.querySelector("[data-held-list]");
  var dialog = root.querySelector("[data-chat-dialog]");
  var lastId = parseInt(root.getAttribute("data-last-id"), 10) || 0;
  var seen = new Set();
  var stickToBottom = true;
  var statusTimer = null;

  list.querySelectorAll(".chat-line").forEach(function (line) {
    seen.add(parseInt(line.getAttribute("data-id"), 10));
  });

  // --- muted users: the account's list when logged in, this browser's when not ---------------
  var muted = new Set();
  function loadMuted() {
    var ids = [];
    try {
      ids = userId ? JSON.parse(root.getAttribute("data-muted") || "[]")
                   : JSON.parse(window.localStorage.getItem(MUTE_STORE) || "[]");
    } catch (e) { ids = []; }
    muted = new Set(ids.map(Number));
  }
  function applyMuted(scope) {
    (scope || list).querySelectorAll(".chat-line").forEach(function (line) {
      line.hidden = muted.has(parseInt(line.getAttribute("data-user-id"), 10));
    });
  }
  loadMuted();
  applyMuted();

  // --- status line: refusals, waits and connection state -------------------------------------
  function showStatus(text, kind, seconds) {
    clearTimeout(statusTimer);
    statusLine.textContent = text;
    statusLine.hidden = !text;
    statusLine.className = "chat-status" + (kind ? " is-" + kind : "");
    if (text && seconds) {
      statusTimer = setTimeout(function () { showStatus(""); }, Math.min(seconds, 30) * 1000 + 500);
    }
  }

  function setConnected(connected) {
    root.classList.toggle("is-disconnected", !connected);
    if (sendButton) sendButton.disabled = !connected;
    if (!connected) showStatus("Reconnecting to chat…", "info");
    else if (statusLine.classList.contains("is-info")) showStatus("");
  }

  // --- the message list ------------------------------------------------------------------------
  function nearBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  }
  function scrollToEnd() {
    list.scrollTop = list.scrollHeight;
    more.hidden = true;
  }
  list.addEventListener("scroll", function () {
    stickToBottom = nearBottom();
    if (stickToBottom) more.hidden = true;
  });
  more.addEventListener("click", function () { stickToBottom = true; scrollToEnd(); });

  function fragment(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  function insertInOrder(container, element, id) {
    var last = container.lastElementChild;
    if (!last || parseInt(last.getAttribute("data-id"), 10) < id) {
      container.appendChild(element);
      return;
    }
    var children = container.children;
    for (var i = 0; i < children.length; i++) {
      if (parseInt(children[i].getAttribute("data-id"), 10) > id) {
        container.insertBefore(element, children[i]);
        return;
      }
    }
    container.appendChild(element);
  }

  function addMessage(message) {
    if (!message || seen.has(message.id)) return;
    var line = fragment(message.html);
    if (!line) return;
    seen.add(message.id);
    lastId = Math.max(lastId, message.id);
    var follow = stickToBottom || nearBottom();
    line.hidden = muted.has(message.user_id);
    insertInOrder(list, line, message.id);
    if (window.htmx) window.htmx.process(line);
    while (list.children.length > MAX_LINES) list.removeChild(list.firstElementChild);
    empty.hidden = true;
    if (follow) scrollToEnd();
    else more.hidden = false;
  }

  function addNotice(text, kind) {
    var line = document.createElement("li");
    line.className = "chat-notice" + (kind ? " chat-notice-" + kind : "");
    line.setAttribute("data-id", String(lastId + 0.5));
    line.textContent = text;
    var follow = stickToBottom || nearBottom();
    list.appendChild(line);
    empty.hidden = true;
    if (follow) scrollToEnd();
  }

  function removeMessage(id) {
    var line = document.getElementById("chat-" + id);
    if (line) line.remove();
  }

  // --- held messages (staff) -------------------------------------------------------------------
  function updateHeldCount() {
    if (!heldBox) return;
    var count = heldList.children.length;
    heldBox.hidden = count === 0;
    heldBox.querySelector("[data-held-count]").textContent = String(count);
  }
  function addHeld(message) {
    if (!heldList || document.getElementById("held-" + message.id)) return;
    var item = fragment(message.html);
    if (!item) return;
    insertInOrder(heldList, item, message.id);
    if (window.htmx) window.htmx.process(item);
    updateHeldCount();
  }
  function resolveHeld(ids) {
    (ids || []).forEach(function (id) {
      var item = document.getElementById("held-" + id);
      if (item) item.remove();
    });
    updateHeldCount();
  }

  // --- modes -------------------------------------------------------------------------------------
  function applySettings(settings) {
    if (!settings) return;
    var slow = root.querySelector('[data-mode="slow"]');
    slow.hidden = !settings.slow_seconds;
    slow.querySelector("[data-mode-value]").textContent = String(settings.slow_seconds);
    root.querySelector('[data-mode="followers"]').hidden = !settings.followers_only;
    root.querySelector('[data-mode="emote"]').hidden = !settings.emote_only;
    var slowSelect = root.querySelector('[data-setting="slow_seconds"]');
    if (slowSelect) setSelect(slowSelect, String(settings.slow_seconds), settings.slow_seconds + " seconds");
    var followers = root.querySelector('[data-setting="followers"]');
    if (followers) {
      setSelect(followers, settings.followers_only ? String(settings.followers_min_minutes) : "off",
                "Following " + settings.followers_min_minutes + " min");
    }
    var emote = root.querySelector('[data-setting="emote_only"]');
    if (emote) emote.value = settings.emote_only ? "1" : "0";
  }
  function setSelect(select, value, label) {
    if (!Array.prototype.some.call(select.options, function (o) { return o.value === value; })) {
      select.add(new Option(label, value));
    }
    select.value = value;
  }

  // --- the socket --------------------------------------------------------------------------------
  var socket = window.io("/chat", { transports: ["websocket", "polling"] });
  var joinTimer = null;

  function join() {
    clearTimeout(joinTimer);
    socket.emit("join", { channel: channel, after: lastId }, function (state) {
      if (!state || !state.ok) {
        var wait = state && state.retry_after;
        showStatus(state ? state.message : "Chat could not load.", "error", wait);
        if (wait) joinTimer = setTimeout(join, wait * 1000 + 250);
        return;
      }
      root.setAttribute("data-role", state.role);
      applySettings(state.settings);
      (state.messages || []).forEach(addMessage);
      if (state.held && heldList) {
        var keep = new Set(state.held.map(function (m) { return m.id; }));
        Array.prototype.slice.call(heldList.children).forEach(function (item) {
          if (!keep.has(parseInt(item.getAttribute("data-id"), 10))) item.remove();
        });
        state.held.forEach(addHeld);
        updateHeldCount();
      }
      setConnected(true);
      if (state.restriction) showStatus(state.restriction.message, "error", state.restriction.retry_after);
    });
  }

  socket.on("connect", join);
  socket.on("disconnect", function () { setConnected(false); });
  socket.on("message", addMessage);
  socket.on("delete", function (data) { removeMessage(data.id); resolveHeld([data.id]); });
  socket.on("clear", function () {
    list.querySelectorAll(".chat-line, .chat-notice").forEach(function (line) { line.remove(); });
  });
  socket.on("notice", function (data) { addNotice(data.text, data.kind); });
  socket.on("error", function (data) {
    if (data && data.message) showStatus(data.message, "error", data.retry_after || 8);
  });
  socket.on("settings", applySettings);
  socket.on("held", addHeld);
  socket.on("resolved", function (data) { resolveHeld(data.ids); });
  // The stream became playable: the player on this page (player.js) listens for this.
  socket.on("live", function (data) {
    document.dispatchEvent(new CustomEvent("cascade:stream-live", { detail: data || {} }));
  });

  // --- sending -----------------------------------------------------------------------------------
  function send() {
    var text = input.value.trim();
    if (!text || sendButton.disabled) return;
    sendButton.disabled = true;
    socket.timeout(SEND_TIMEOUT_MS).emit("send", { channel: channel, text: text }, function (err, ack) {
      sendButton.disabled = !socket.connected;
      if (err) {
        showStatus("Not sent: the server did not answer. Check your connection and try again.", "error");
        return;
      }
      if (ack && ack.ok) {
        input.value = "";
        if (!ack.held) showStatus("");
        stickToBottom = true;
        return;
      }
      // The `error` event carries the same reason; keep the text so it can be sent again.
    });
  }
  if (form) {
    form.addEventListener("submit", function (event) { event.preventDefault(); send(); });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        send();
      }
    });
  }

  // --- the user dialog: hide for me; moderators time out and ban from here -----------------------
  var dialogUser = null;
  function csrfHeaders() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}"); } catch (e) { return {}; }
  }
  function urlFor(attribute, id) {
    return root.getAttribute(attribute).replace(/\/0(\/|$)/, "/" + id + "$1");
  }
  function updateMuteButton() {
    var button = dialog.querySelector("[data-dialog-mute]");
    var isMuted = muted.has(dialogUser.id);
    button.textContent = isMuted ? "Show their messages" : "Hide their messages";
    button.setAttribute("aria-pressed", isMuted ? "true" : "false");
    button.hidden = String(dialogUser.id) === userId;
  }

  list.addEventListener("click", function (event) {
    var name = event.target.closest("[data-chat-user]");
    if (!name) return;
    var line = name.closest(".chat-line");
    dialogUser = { id: parseInt(line.getAttribute("data-user-id"), 10),
                   username: name.getAttribute("data-username"), name: name.textContent };
    dialog.querySelector("[data-dialog-name]").textContent = dialogUser.name;
    dialog.querySelector("[data-dialog-profile]").href =
      root.getAttribute("data-profile-url").replace("__user__", encodeURIComponent(dialogUser.username));
    dialog.querySelector("[data-dialog-reason]").value = "";
    dialog.querySelector("[data-dialog-minutes]").value = "";
    updateMuteButton();
    dialog.showModal();
  });

  dialog.addEventListener("click", function (event) {
    if (event.target === dialog || event.target.closest("[data-dialog-close]")) {
      dialog.close();
      return;
    }
    if (event.target.closest("[data-dialog-mute]")) {
      toggleMute(dialogUser.id);
      return;
    }
    var action = event.target.closest("[data-dialog-action]");
    if (!action || !window.htmx) return;
    var kind = action.getAttribute("data-dialog-action");
    var values = { reason: dialog.querySelector("[data-dialog-reason]").value };
    var url;
    if (kind === "timeout") {
      url = urlFor("data-timeout-url", dialogUser.id);
      values.seconds = action.getAttribute("data-seconds");
    } else if (kind === "timeout-custom") {
      var minutes = dialog.querySelector("[data-dialog-minutes]");
      if (!minutes.value) { minutes.focus(); return; }
      url = urlFor("data-timeout-url", dialogUser.id);
      values.minutes = minutes.value;
    } else if (kind === "ban") {
      url = urlFor("data-ban-url", dialogUser.id);
    } else {
      url = urlFor("data-unban-url", dialogUser.id);
    }
    window.htmx.ajax("POST", url, { source: root, target: "#chat-mod-status", swap: "outerHTML",
                                    values: values });
    dialog.close();
  });

  function toggleMute(id) {
    var wasMuted = muted.has(id);
    if (wasMuted) muted.delete(id); else muted.add(id);
    applyMuted();
    updateMuteButton();
    if (!userId) {
      window.localStorage.setItem(MUTE_STORE, JSON.stringify(Array.from(muted)));
      return;
    }
    var headers = csrfHeaders();
    fetch(urlFor("data-mute-url", id), { method: wasMuted ? "DELETE" : "POST", headers: headers,
                                         credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (body && body.ok) { muted = new Set(body.muted); applyMuted(); updateMuteButton(); }
        else if (body) showStatus(body.message, "error", 8);
      })
      .catch(function () { showStatus("Could not save that. Try again.", "error", 8); });
  }

  scrollToEnd();
})();
