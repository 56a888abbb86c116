// The sales pipeline (templates/handoff/pipeline.html).
// The forms' shared behaviour is in handoff_forms.js.
(function () {
  "use strict";

  function failed(event) {
    var more = event.detail.elt.closest(".pipe-more");
    if (more) {
      var problem = document.createElement("p");
      problem.className = "field-error";
      problem.setAttribute("role", "alert");
      problem.textContent =
        "The next cards could not be loaded. Reload the page and try again.";
      more.replaceChildren(problem);
      return;
    }
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

  // "Show more" leaves out the cards its column shows out of order (moved
  // in, or shown again after a form): they carry data-shown.
  function leaveOutShown(event) {
    var more = event.detail.elt.closest(".pipe-more");
    if (!more) {
      return;
    }
    var cards = more.closest(".pipe-column").querySelectorAll("[data-shown]");
    var ids = Array.prototype.map.call(cards, function (card) {
      return card.getAttribute("data-shown");
    });
    if (ids.length) {
      event.detail.parameters.shown = ids.join(",");
    }
  }

  document.body.addEventListener("htmx:configRequest", leaveOutShown);
  document.body.addEventListener("htmx:responseError", failed);
  document.body.addEventListener("htmx:sendError", failed);
})();
