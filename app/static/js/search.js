// The nav search dropdown: arrow keys move through the suggestions, Escape closes them.
(function () {
  "use strict";

  // The text whose suggestions Escape closed: an answer still on its way for it (the debounced
  // request of the last keystroke, a slow network) must not open them again. Typing reopens.
  var closed = null;

  function links(form) {
    return Array.prototype.slice.call(form.querySelectorAll("#search-suggest a"));
  }

  document.addEventListener("keydown", function (event) {
    var form = event.target.closest && event.target.closest(".nav-search");
    if (!form) return;
    var input = form.querySelector("input[type=search]");
    var items = links(form);
    var at = items.indexOf(document.activeElement);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!items.length) return;
      event.preventDefault();
      var step = event.key === "ArrowDown" ? 1 : -1;
      var next = at + step;
      if (next < 0) { input.focus(); return; }
      items[Math.min(next, items.length - 1)].focus();
    } else if (event.key === "Escape") {
      var panel = form.querySelector("#search-suggest");
      if (panel && panel.firstElementChild) {
        event.preventDefault();
        closed = input.value;
        panel.replaceChildren();
        input.focus();
      }
    }
  });

  document.addEventListener("input", function (event) {
    if (event.target.closest && event.target.closest(".nav-search")) closed = null;
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (closed === null || !target || target.id !== "search-suggest") return;
    var input = target.closest(".nav-search").querySelector("input[type=search]");
    if (input.value === closed) event.detail.shouldSwap = false;
  });
})();
