// The status page's "Copy the link" button. Without JavaScript the button stays hidden and
// the link is shown in a read-only box to select and copy by hand.
(function () {
  "use strict";
  function start() {
    var button = document.querySelector("[data-copy-target]");
    if (!button) return;
    var field = document.getElementById(button.getAttribute("data-copy-target"));
    var status = document.getElementById(button.getAttribute("data-copy-status"));
    if (!field) return;
    button.hidden = false;
    field.addEventListener("focus", function () { field.select(); });
    function done(message) { if (status) status.textContent = message; }
    button.addEventListener("click", function () {
      field.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(
          function () { done("Link copied."); },
          function () { done("Could not copy: the link is selected, copy it with Ctrl+C or ⌘C."); }
        );
      } else {
        var copied = false;
        try { copied = document.execCommand("copy"); } catch (error) { copied = false; }
        done(copied ? "Link copied." : "The link is selected: copy it with Ctrl+C or ⌘C.");
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
