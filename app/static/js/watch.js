// The channel page's layout on phones: pinned to the visible viewport (the player on top, chat
// filling the rest) so an on-screen keyboard never pushes the player away, and the channel's
// details behind an About button. Theatre mode on wide screens lives in player.js.
(function () {
  "use strict";

  var page = document.querySelector("[data-channel-page]");
  if (!page) return;

  var root = document.documentElement;
  var body = document.body;
  // Below this height (a phone with its keyboard open) the header and the channel strip step
  // aside for the chat; CSS does the same from a media query where the keyboard resizes the layout.
  var SHORT_PX = 560;

  // Browsers whose keyboard only shrinks the visual viewport (iOS Safari ignores
  // interactive-widget=resizes-content) get the page sized to what is visible.
  var viewport = window.visualViewport;
  function fit() {
    var height = viewport ? viewport.height : window.innerHeight;
    root.style.setProperty("--watch-height", Math.round(height) + "px");
    body.classList.toggle("is-short", height < SHORT_PX);
    if (viewport && viewport.offsetTop > 0 && window.scrollY > 0) window.scrollTo(0, 0);
  }
  if (viewport) {
    viewport.addEventListener("resize", fit);
    viewport.addEventListener("scroll", fit);
  } else {
    window.addEventListener("resize", fit);
  }
  fit();

  // A chat that was showing its newest line keeps showing it when the keyboard shrinks it.
  var list = page.querySelector("[data-chat-list]");
  if (list && window.ResizeObserver) {
    var pinned = true;
    var height = list.clientHeight;
    list.addEventListener("scroll", function () {
      // Shrinking the list fires a scroll event of its own before the observer runs: only the
      // reader's scrolling at an unchanged size says whether they left the bottom.
      if (list.clientHeight !== height) return;
      pinned = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    }, { passive: true });
    new ResizeObserver(function () {
      if (pinned) list.scrollTop = list.scrollHeight;
      height = list.clientHeight;
    }).observe(list);
  }

  // About: on phones the channel's details take the chat's place until pressed again.
  var toggle = page.querySelector("[data-about-toggle]");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      page.classList.toggle("is-about-open", open);
    });
  }
})();
