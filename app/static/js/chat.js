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
    seen.delete(id);  // a moderator may restore it (Undo), and it arrives again
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

  // --- role -------------------------------------------------------------------------------------
  // A moderator removed by the owner: the server has already taken this socket out of the staff
  // room; the tools the page rendered for staff go too, without a reload.
  var STAFF_ROLES = ["owner", "admin", "moderator"];
  var readOnly = root.hasAttribute("data-read-only");  // the embeddable player's chat: everyone reads
  function applyRole(data) {
    if (!data || !data.role || readOnly) return;
    root.setAttribute("data-role", data.role);
    if (STAFF_ROLES.indexOf(data.role) !== -1) return;
    root.querySelectorAll(".chat-mod-menu, [data-chat-held]").forEach(function (el) { el.remove(); });
    heldBox = null;
    heldList = null;
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
      if (!readOnly) root.setAttribute("data-role", state.role);
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
      var recent = root.querySelector("[data-recent-actions]");
      if (recent && window.htmx) {
        window.htmx.ajax("GET", recent.closest("[data-recent-source]").getAttribute("data-recent-source"),
                         { source: root, target: recent, swap: "outerHTML" });
      }
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
    if (sending) return;  // a refused send: its outbox line shows the reason
    if (data && data.message) showStatus(data.message, "error", data.retry_after || 8);
  });
  socket.on("settings", applySettings);
  socket.on("role", applyRole);
  socket.on("held", addHeld);
  socket.on("resolved", function (data) { resolveHeld(data.ids); });
  // The stream became playable: the player on this page (player.js) listens for this.
  socket.on("live", function (data) {
    document.dispatchEvent(new CustomEvent("cascade:stream-live", { detail: data || {} }));
  });

  // --- sending: an outbox, in order, one message in flight ----------------------------------------
  // Enter moves the text from the box into the outbox at once, so the next message can be typed
  // while the last is on its way. Each message keeps its text on screen until the server accepts
  // it (its line then arrives like anyone's); a refused or unanswered one stays with the reason,
  // Retry and Discard, and holds the ones after it back, so messages never go out of order. A
  // retry carries the same nonce: if the first try did arrive, the server answers it again
  // instead of storing the message twice.
  var outbox = root.querySelector("[data-chat-outbox]");
  var queue = [];
  var sending = null;
  var nonceSeq = 0;
  var pageNonce = Math.random().toString(36).slice(2, 10);

  function outboxItem(text) {
    var item = document.createElement("li");
    item.className = "chat-outbox-item";
    var body = document.createElement("span");
    body.className = "chat-outbox-text";
    body.textContent = text;
    var state = document.createElement("span");
    state.className = "chat-outbox-state";
    state.setAttribute("data-outbox-state", "");
    var actions = document.createElement("span");
    actions.className = "chat-outbox-actions";
    actions.hidden = true;
    actions.innerHTML = '<button type="button" class="button button-small" data-outbox-retry>Retry</button>' +
      '<button type="button" class="button button-ghost button-small" data-outbox-discard>Discard</button>';
    item.append(body, state, actions);
    outbox.append(item);
    outbox.hidden = false;
    return { text: text, nonce: "m" + pageNonce + "-" + (++nonceSeq), el: item, failed: false };
  }
  function setOutboxState(message, text, failed) {
    message.failed = failed;
    message.el.classList.toggle("is-failed", failed);
    message.el.querySelector("[data-outbox-state]").textContent = text;
    message.el.querySelector(".chat-outbox-actions").hidden = !failed;
  }
  function dropFromOutbox(message) {
    queue.splice(queue.indexOf(message), 1);
    message.el.remove();
    outbox.hidden = queue.length === 0;
  }
  function pump() {
    if (sending || !queue.length) return;
    var message = queue[0];
    if (message.failed) return;  // waits for Retry or Discard
    if (!socket.connected) {
      setOutboxState(message, "Waiting for the connection…", false);
      return;
    }
    sending = message;
    setOutboxState(message, "Sending…", false);
    socket.timeout(SEND_TIMEOUT_MS).emit("send", { channel: channel, text: message.text, nonce: message.nonce },
      function (err, ack) {
        sending = null;
        if (err) {
          setOutboxState(message, "Not sent: the server did not answer.", true);
        } else if (ack && ack.ok) {
          dropFromOutbox(message);
          if (!ack.held) showStatus("");
          stickToBottom = true;
        } else {
          setOutboxState(message, "Not sent: " + ((ack && ack.message) || "refused."), true);
        }
        queue.slice(1).forEach(function (waiting) {
          if (message.failed && !waiting.failed) setOutboxState(waiting, "Waiting for the message above.", false);
        });
        pump();
      });
  }
  function send() {
    var text = input.value.trim();
    if (!text) return;
    var message = outboxItem(text);
    queue.push(message);
    setOutboxState(message, queue.length > 1 ? "Queued…" : "Sending…", false);
    input.value = "";
    pump();
  }
  if (outbox) {
    outbox.addEventListener("click", function (event) {
      var item = event.target.closest(".chat-outbox-item");
      var message = item && queue.filter(function (m) { return m.el === item; })[0];
      if (!message || !message.failed) return;
      if (event.target.closest("[data-outbox-retry]")) {
        setOutboxState(message, "Sending…", false);
        pump();
      } else if (event.target.closest("[data-outbox-discard]")) {
        dropFromOutbox(message);
        if (queue.length && !queue[0].failed) setOutboxState(queue[0], "Sending…", false);
        pump();
      }
    });
  }
  socket.on("connect", pump);
  if (form) {
    form.addEventListener("submit", function (event) { event.preventDefault(); send(); });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        send();
      }
    });
  }

  // --- the user card: who someone is; hide for me; moderators see their record and act here ------
  var dialogUser = null;
  var dialogBody = dialog.querySelector("[data-dialog-body]");
  var cardRequest = 0;
  function csrfHeaders() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}"); } catch (e) { return {}; }
  }
  function urlFor(attribute, id) {
    // The id is the URL's last "/0" path segment before at most one more (a slug may be "0" too).
    return root.getAttribute(attribute).replace(/\/0(?=\/[^\/]*$|$)/, "/" + id);
  }
  function updateMuteButton() {
    var button = dialog.querySelector("[data-dialog-mute]");
    if (!button || !dialogUser) return;
    var isMuted = muted.has(dialogUser.id);
    button.textContent = isMuted ? "Show their messages" : "Hide their messages";
    button.setAttribute("aria-pressed", isMuted ? "true" : "false");
    button.hidden = String(dialogUser.id) === userId;
  }
  function showLocalTimes(scope) {
    scope.querySelectorAll("time[data-local-time]").forEach(function (time) {
      var when = new Date(time.getAttribute("datetime") + (/[zZ]|[+-]\d\d:\d\d$/.test(time.getAttribute("datetime")) ? "" : "Z"));
      if (!isNaN(when)) time.textContent = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    });
  }
  function cardMessage(name, text) {
    var heading = document.createElement("h3");
    heading.id = "chat-dialog-name";
    heading.className = "user-card-name";
    heading.textContent = name;
    var line = document.createElement("p");
    line.className = "muted";
    line.textContent = text;
    dialogBody.replaceChildren(heading, line);
  }

  function openCard(id, name) {
    dialogUser = { id: id, name: name };
    var request = ++cardRequest;
    cardMessage(name, "Loading…");
    if (!dialog.open) dialog.showModal();
    fetch(urlFor("data-card-url", id), { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 404) throw new Error("This account is no longer available.");
        if (!response.ok) throw new Error("Could not load this profile. Try again.");
        return response.text();
      })
      .then(function (html) {
        if (request !== cardRequest) return;  // another name was opened meanwhile
        dialogBody.innerHTML = html;  // the server's fragment: user text in it is escaped
        if (window.htmx) window.htmx.process(dialogBody);
        showLocalTimes(dialogBody);
        updateMuteButton();
      })
      .catch(function (error) {
        if (request === cardRequest) cardMessage(name, error.message);
      });
  }

  // Report a message: the report form (a server fragment) in the same dialog; htmx posts it and
  // swaps in the receipt. Without JavaScript the button's page link is not reachable, so the
  // form's own page (/report/message/<id>) stays the fallback for the user card's links.
  function openReport(url) {
    dialogUser = null;
    var request = ++cardRequest;
    cardMessage("Report a message", "Loading…");
    if (!dialog.open) dialog.showModal();
    fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 404) throw new Error("This message can't be reported any more.");
        if (!response.ok) throw new Error("Could not load the report form. Try again.");
        return response.text();
      })
      .then(function (html) {
        if (request !== cardRequest) return;
        cardMessage("Report a message", "");
        var holder = document.createElement("div");
        holder.innerHTML = html;  // the server's fragment: user text in it is escaped
        dialogBody.appendChild(holder);
        if (window.htmx) window.htmx.process(holder);
      })
      .catch(function (error) {
        if (request === cardRequest) cardMessage("Report a message", error.message);
      });
  }

  list.addEventListener("click", function (event) {
    var report = event.target.closest("[data-chat-report]");
    if (report) {
      openReport(report.getAttribute("data-chat-report"));
      return;
    }
    var name = event.target.closest("[data-chat-user]");
    if (!name) {
      // A tap on a line shows its Report button (phones have no hover).
      var picked = event.target.closest(".chat-line");
      list.querySelectorAll(".chat-line.is-picked").forEach(function (line) {
        if (line !== picked) line.classList.remove("is-picked");
      });
      if (picked) picked.classList.toggle("is-picked");
      return;
    }
    var line = name.closest(".chat-line");
    openCard(parseInt(line.getAttribute("data-user-id"), 10), name.textContent);
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

  // --- recent actions and Undo (staff) ---------------------------------------------------------------
  // Undo buttons sit in the recent-actions list and in the outcome line after a timeout or ban.
  root.addEventListener("click", function (event) {
    var undo = event.target.closest("[data-undo-action]");
    if (!undo || !window.htmx) return;
    undo.disabled = true;
    window.htmx.ajax("POST", urlFor("data-undo-url", undo.getAttribute("data-undo-action")),
                     { source: root, target: "#chat-mod-status", swap: "outerHTML" });
  });
  function recentList() { return root.querySelector("[data-recent-actions]"); }
  function showAction(data) {
    var recent = recentList();
    if (!recent || !data) return;  // not opened yet: it loads fresh when it is
    var item = fragment(data.html);
    if (!item) return;
    showLocalTimes(item);
    var old = document.getElementById("recent-action-" + data.id);
    if (old) {
      old.replaceWith(item);
    } else {
      var first = recent.querySelector(".recent-action");
      if (first && parseInt(first.getAttribute("data-id"), 10) > data.id) return;  // older than the list
      recent.insertBefore(item, first || recent.firstElementChild);
      var items = recent.querySelectorAll(".recent-action");
      if (items.length > 20) items[items.length - 1].remove();
    }
    var emptyLine = recent.querySelector("[data-recent-empty]");
    if (emptyLine) emptyLine.hidden = true;
  }
  socket.on("modaction", showAction);
  document.body.addEventListener("htmx:load", function (event) {
    if (root.contains(event.detail.elt)) showLocalTimes(event.detail.elt);
  });

  function toggleMute(id) {
    var wasMuted = muted.has(id);
    if (wasMuted) muted.delete(id); else muted.add(id);
    applyMuted();
    updateMuteButton();
    if (!userId) {
      try {
        window.localStorage.setItem(MUTE_STORE, JSON.stringify(Array.from(muted)));
      } catch (e) { /* storage refused (a framed chat): hidden for this page only */ }
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
