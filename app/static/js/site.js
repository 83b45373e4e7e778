// Site-wide glue: theme toggle, copy buttons, closing menus, and forms' failed requests and
// too-large pictures. No framework, no inline script.
(function () {
  "use strict";

  var THEME_COOKIE = "theme";
  var root = document.documentElement;

  function effectiveTheme() {
    var chosen = root.getAttribute("data-theme");
    if (chosen === "dark" || chosen === "light") return chosen;
    return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function setTheme(theme) {
    root.setAttribute("data-theme", theme);
    var meta = document.querySelector('meta[name="color-scheme"]');
    if (meta) meta.setAttribute("content", theme);
    document.cookie = THEME_COOKIE + "=" + theme + "; Path=/; Max-Age=31536000; SameSite=Lax";
  }

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-theme-toggle]");
    if (toggle) {
      event.preventDefault();
      setTheme(effectiveTheme() === "dark" ? "light" : "dark");
      return;
    }

    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var source = document.querySelector(copy.getAttribute("data-copy"));
      if (!source) return;
      var done = function () {
        var label = copy.textContent;
        copy.textContent = "Copied";
        copy.classList.add("is-copied");
        setTimeout(function () { copy.textContent = label; copy.classList.remove("is-copied"); }, 1600);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(source.value).then(done);
      } else {
        source.select();
        document.execCommand("copy");
        done();
      }
      return;
    }

    // Close an open account menu when clicking anywhere else.
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });

  // A form's htmx request that fails (a 4xx or 5xx, which htmx does not swap, or no answer at
  // all) says why in the form, instead of nothing: the server's own words when it sent an error
  // page or JSON, else a sentence for the status.
  var FALLBACK = {
    0: "Couldn't reach the site. Check your connection and try again.",
    413: "That file is too large to upload.",
    429: "Too many tries in a short time. Wait a minute and try again.",
  };

  function formOf(elt) {
    if (!elt || !elt.closest) return null;
    return elt.tagName === "FORM" ? elt : elt.closest("form");
  }

  function serverMessage(xhr) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    try {
      if (type.indexOf("application/json") === 0) return JSON.parse(xhr.responseText).message || "";
      if (type.indexOf("text/html") === 0) {
        var found = new DOMParser().parseFromString(xhr.responseText, "text/html")
          .querySelector("[data-error-message]");
        return found ? found.textContent.trim() : "";
      }
    } catch (error) { /* an unreadable body: fall back to the status */ }
    return "";
  }

  function showFormError(form, text) {
    var box = form.querySelector("[data-request-error]");
    if (!box) {
      box = document.createElement("p");
      box.className = "flash flash-error";
      box.setAttribute("role", "alert");
      box.setAttribute("data-request-error", "");
      var actions = form.querySelector(".form-actions");
      form.insertBefore(box, actions && actions.parentNode === form ? actions : null);
    }
    box.textContent = text;
  }

  function requestFailed(event, xhr) {
    var form = formOf(event.detail.elt);
    if (!form) return;  // polls and lazy loads keep what they show
    var status = xhr ? xhr.status : 0;
    var text = (xhr && serverMessage(xhr)) || FALLBACK[status] ||
      (status >= 500 ? "Something went wrong on our side. Try again in a moment."
                     : "That didn't work (error " + status + "). Reload the page and try again.");
    showFormError(form, text);
  }

  document.addEventListener("htmx:responseError", function (event) { requestFailed(event, event.detail.xhr); });
  document.addEventListener("htmx:sendError", function (event) { requestFailed(event, null); });

  // A picture over the site's limit is refused before it is sent (the server checks it again).
  function tooLarge(input) {
    var max = Number(input.getAttribute("data-max-bytes"));
    return Array.prototype.some.call(input.files || [], function (file) { return file.size > max; });
  }

  function markSize(input) {
    var error = document.getElementById(input.id + "-size-error");
    var large = tooLarge(input);
    if (large && !error) {
      error = document.createElement("p");
      error.className = "error";
      error.id = input.id + "-size-error";
      error.setAttribute("role", "alert");
      error.textContent = input.getAttribute("data-too-large");
      input.insertAdjacentElement("afterend", error);
      input.setAttribute("aria-describedby",
        ((input.getAttribute("aria-describedby") || "") + " " + error.id).trim());
      input.setAttribute("aria-invalid", "true");
    } else if (!large && error) {
      error.remove();
      input.setAttribute("aria-describedby",
        (input.getAttribute("aria-describedby") || "").replace(error.id, "").trim());
      input.removeAttribute("aria-invalid");
    }
    return large;
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("input[type=file][data-max-bytes]")) markSize(event.target);
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = formOf(event.detail.elt);
    if (!form) return;
    var stale = form.querySelector("[data-request-error]");
    if (stale) stale.remove();
    var large = Array.prototype.filter.call(form.querySelectorAll("input[type=file][data-max-bytes]"), markSize);
    if (large.length && !event.detail.elt.hasAttribute("formaction")) {
      event.preventDefault();
      large[0].focus();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    });
  });
})();
