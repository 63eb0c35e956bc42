// "Copy" buttons beside the citations of an incident page. Without JavaScript the buttons stay
// hidden and each citation is shown as text to select and copy by hand.
(function () {
  "use strict";
  function select(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  function start() {
    var buttons = document.querySelectorAll("button[data-copy-target]");
    Array.prototype.forEach.call(buttons, function (button) {
      var source = document.getElementById(button.getAttribute("data-copy-target"));
      if (!source) return;
      var status = button.parentNode.querySelector(".copy-status");
      function done(message) { if (status) status.textContent = message; }
      button.hidden = false;
      button.addEventListener("click", function () {
        var text = source.textContent;
        select(source);
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(
            function () { done("Copied."); },
            function () { done("Could not copy: the citation is selected, copy it with Ctrl+C or ⌘C."); }
          );
        } else {
          var copied = false;
          try { copied = document.execCommand("copy"); } catch (error) { copied = false; }
          done(copied ? "Copied." : "The citation is selected: copy it with Ctrl+C or ⌘C.");
        }
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
