// The review queue's keys: 1 — «верно», 2 — «ошибка программы», 3 — «спорно», 0 — skip. One key is one verdict:
// the form is sent at once and the next finding comes back. Typing a comment is not a verdict.
(function () {
  var keys = { "1": "v-right", "2": "v-wrong", "3": "v-disputed", "0": "v-skip" };
  var sent = false;
  document.addEventListener("keydown", function (event) {
    if (sent || event.ctrlKey || event.altKey || event.metaKey || event.repeat) return;
    var target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable)) return;
    var id = keys[event.key];
    if (!id) return;
    var button = document.getElementById(id);
    if (!button) return;
    event.preventDefault();
    sent = true;
    button.classList.add("pressed");
    button.click();
  });
})();
