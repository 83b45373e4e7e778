// The mature-content interstitial: "Go back" returns to the page the viewer came from on this
// site; without history (a shared link opened in a new tab) it follows its link, the directory.
(function () {
  "use strict";
  document.querySelectorAll("[data-go-back]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var from = document.referrer;
      if (window.history.length > 1 && from && from.indexOf(window.location.origin + "/") === 0) {
        event.preventDefault();
        window.history.back();
      }
    });
  });
})();
