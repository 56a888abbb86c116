// The sales pipeline (templates/handoff/pipeline.html).
// The forms' shared behaviour is in handoff_forms.js.
(function () {
  "use strict";

  function failed(event) {
    var card = event.detail.elt.closest(".pipe-card");
    if (!card) {
      return;
    }
    var note = document.createElement("p");
    note.className = "row-note row-note-error";
    note.setAttribute("role", "alert");
    note.textContent = "That did not go through. Reload the page and try again.";
    card.querySelector(".pipe-actions").before(note);
  }

  document.body.addEventListener("htmx:responseError", failed);
  document.body.addEventListener("htmx:sendError", failed);
})();
