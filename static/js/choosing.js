// Many-valued fields of the contribution forms (one box per value), made quicker:
// - "Add another" adds a box in place instead of sending the form to show it again;
// - a term box that matches none of its vocabulary's suggestions shows its "Propose it as a
//   new term" checkbox at once (without the script the server offers it after a first try);
// - an organisation or system box asks the lookup address for names as one types and fills
//   its suggestions (without the script the server resolves the names when the form is sent).
// Everything works without this script.
(function () {
  "use strict";
  var LOOKUP_DELAY_MS = 200;
  var MIN_LENGTH = 2;

  function fold(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/[^\p{L}\p{N}+#]/gu, "");
  }

  function knownTerm(input) {
    var list = input.list;
    var key = fold(input.value);
    if (!list || !key) return true;
    for (var i = 0; i < list.options.length; i++) {
      var option = list.options[i];
      if (fold(option.value) === key || fold(option.label || "") === key) return true;
    }
    return false;
  }

  function updatePropose(input) {
    var propose = input.parentNode.querySelector("[data-propose]");
    if (!propose) return;
    var checkbox = propose.querySelector("input[type=checkbox]");
    checkbox.value = input.value;
    propose.querySelector("[data-propose-name]").textContent = "\u201c" + input.value.trim() + "\u201d";
    var unknown = input.value.trim() !== "" && !knownTerm(input);
    propose.hidden = !unknown;
    if (!unknown) checkbox.checked = false;
  }

  var timers = new WeakMap();
  var asked = {};

  function fillSuggestions(input, results) {
    var list = input.list;
    if (!list) return;
    list.textContent = "";
    results.forEach(function (result) {
      var option = document.createElement("option");
      option.value = result.name;
      if (result.alias) option.label = result.alias;
      list.appendChild(option);
    });
  }

  function lookup(input) {
    var text = input.value.trim();
    if (fold(text).length < MIN_LENGTH) return;
    var url = input.dataset.lookup + "&q=" + encodeURIComponent(text);
    if (asked[url]) {
      fillSuggestions(input, asked[url]);
      return;
    }
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : { results: [] }; })
      .then(function (data) {
        asked[url] = data.results || [];
        if (input.value.trim() === text) fillSuggestions(input, asked[url]);
      })
      .catch(function () {});
  }

  function onInput(event) {
    var input = event.target;
    if (!input.matches || !input.matches("[data-values] input[type=text]")) return;
    if (input.dataset.lookup) {
      clearTimeout(timers.get(input));
      timers.set(input, setTimeout(function () { lookup(input); }, LOOKUP_DELAY_MS));
    } else {
      updatePropose(input);
    }
  }

  function addBox(button) {
    var control = button.closest("[data-values]");
    var rows = control.querySelectorAll(".value-row");
    var last = rows[rows.length - 1];
    var row = last.cloneNode(true);
    var first = control.querySelector("input[type=text]");
    var number = rows.length + 1;
    var input = row.querySelector("input[type=text]");
    var labelText = control.querySelector("label[for='" + first.id + "']").textContent;
    input.id = first.id + "_" + number;
    input.value = "";
    input.removeAttribute("autofocus");
    var label = row.querySelector("label.visually-hidden");
    if (!label) {
      label = document.createElement("label");
      label.className = "visually-hidden";
      row.insertBefore(label, input);
    }
    label.htmlFor = input.id;
    label.textContent = labelText + " " + number;
    var propose = row.querySelector("[data-propose]");
    if (propose) {
      var checkbox = propose.querySelector("input[type=checkbox]");
      checkbox.id = first.id + "_propose_" + number;
      checkbox.checked = false;
      checkbox.value = "";
      propose.htmlFor = checkbox.id;
      propose.hidden = true;
    }
    last.parentNode.appendChild(row);
    input.focus();
  }

  function start() {
    document.addEventListener("input", onInput);
    document.addEventListener("change", onInput);
    document.addEventListener("click", function (event) {
      var button = event.target.closest && event.target.closest("[data-add-value]");
      if (!button) return;
      event.preventDefault();
      addBox(button);
    });
    document.querySelectorAll("[data-values] input[type=text]:not([data-lookup])").forEach(function (input) {
      if (input.value.trim()) updatePropose(input);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
