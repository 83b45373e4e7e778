// The channel page's Share button: the link and the embed code, each with Copy, and the phone's
// own share sheet where there is one.
(function () {
  "use strict";

  var button = document.querySelector("[data-share]");
  var dialog = document.querySelector("[data-share-dialog]");
  if (!button || !dialog) return;

  var link = dialog.querySelector("[data-share-link]");
  var embed = dialog.querySelector("[data-share-embed]");
  var withChat = dialog.querySelector("[data-share-chat]");
  var status = dialog.querySelector("[data-share-status]");
  var native = dialog.querySelector("[data-share-native]");

  function embedCode() {
    var src = dialog.dataset.embedUrl + (withChat.checked ? "?chat=1" : "");
    var width = withChat.checked ? 960 : 640;
    // The code is text in a textarea (set as a value, never parsed as markup here); the title is
    // escaped for the attribute it lands in on the other site.
    var title = dialog.dataset.title.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
    return '<iframe src="' + src + '" width="' + width + '" height="360" title="' + title +
      '" allow="autoplay; fullscreen; picture-in-picture" allowfullscreen style="border:0"></iframe>';
  }
  function fill() { embed.value = embedCode(); }

  button.addEventListener("click", function () {
    fill();
    status.textContent = "";
    dialog.showModal();
  });
  withChat.addEventListener("change", fill);
  dialog.addEventListener("click", function (event) {
    if (event.target === dialog || event.target.closest("[data-share-close]")) { dialog.close(); return; }
    var copy = event.target.closest("[data-copy]");
    if (!copy) return;
    var field = dialog.querySelector(copy.getAttribute("data-copy"));
    field.select();
    var done = function () { status.textContent = "Copied."; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {
        status.textContent = "Select the text and copy it.";
      });
    } else {
      try { document.execCommand("copy"); done(); } catch (e) { status.textContent = "Select the text and copy it."; }
    }
  });
  if (navigator.share) {
    native.hidden = false;
    native.addEventListener("click", function () {
      navigator.share({ title: dialog.dataset.title, url: link.value }).catch(function () { /* dismissed */ });
    });
  }
})();
