// Keyboard shortcuts for the rating pages. Keys are ignored while typing in a text field,
// except Ctrl+Enter (or Cmd+Enter), which submits from anywhere.
(function () {
  "use strict";
  var form = document.getElementById("judge");
  if (!form) return;
  var task = form.dataset.task;
  var sent = false;
  form.addEventListener("submit", function (e) {
    if (sent) { e.preventDefault(); return; }  // one submission per page
    sent = true;
  });
  function pick(name, value) {
    var input = form.querySelector('input[name="' + name + '"][value="' + value + '"]');
    if (input) { input.checked = true; input.dispatchEvent(new Event("change", { bubbles: true })); }
  }
  function submit() {
    if (form.reportValidity()) form.requestSubmit();
  }
  document.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submit(); return; }
    var t = e.target;
    if (t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT" && t.type !== "radio" && t.type !== "checkbox" || t.tagName === "SELECT")) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var k = e.key.toLowerCase();
    if (task === "pairwise") {
      var map = { "1": ["choice", "left"], "2": ["choice", "right"], "3": ["choice", "tie"],
                  "s": ["strength", "1"], "c": ["strength", "2"], "m": ["strength", "3"] };
      if (map[k]) { e.preventDefault(); pick(map[k][0], map[k][1]); return; }
    } else if (task === "rating" && /^[1-9]$/.test(k)) {
      e.preventDefault(); pick("rating", k); return;
    }
    if (e.key === "Enter" && task !== "demonstration") { e.preventDefault(); submit(); }
  });
})();
