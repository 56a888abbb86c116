// SAL queue page (templates/handoff/queue.html).
// - The queue refreshes every 30 s (hx-trigger on #queue-sections), but not
//   while a row is being edited: a form open, a field focused or a request
//   on its way. The next tick after that refreshes it.
// The forms' shared behaviour is in handoff_forms.js.
(function () {
  "use strict";

  var sections = document.getElementById("queue-sections");

  function editing() {
    if (sections.querySelector("details[open], .htmx-request")) {
      return true;
    }
    var active = document.activeElement;
    return Boolean(
      active && sections.contains(active) && active.matches("input, select, textarea")
    );
  }

  sections.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.elt !== sections || !editing()) {
      return;
    }
    event.preventDefault();
    var updated = sections.querySelector(".queue-updated");
    if (updated) {
      updated.textContent = "Refresh paused while you edit a row.";
    }
  });

  document.body.addEventListener("htmx:beforeSwap", function (event) {
    // A refresh that fails keeps the rows the person is looking at.
    if (event.detail.elt === sections && event.detail.xhr.status !== 200) {
      event.detail.shouldSwap = false;
    }
  });

  function failed(event) {
    var elt = event.detail.elt;
    if (elt === sections) {
      return;
    }
    var row = elt.closest(".queue-row");
    if (!row) {
      return;
    }
    var note = document.createElement("p");
    note.className = "row-note row-note-error";
    note.setAttribute("role", "alert");
    note.textContent = "That did not go through. Reload the page and try again.";
    row.querySelector(".queue-actions").prepend(note);
  }

  document.body.addEventListener("htmx:responseError", failed);
  document.body.addEventListener("htmx:sendError", failed);
})();
