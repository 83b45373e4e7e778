// Site-wide glue: theme toggle, copy buttons and closing menus. No framework, no inline script.
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

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    });
  });
})();
