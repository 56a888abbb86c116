// A handoff's page (templates/handoff/handoff_detail.html).
// The forms' shared behaviour is in handoff_forms.js.
(function () {
  "use strict";

  function failed() {
    var main = document.getElementById("handoff-main");
    var note = document.createElement("div");
    note.className = "alert alert-error";
    note.setAttribute("role", "alert");
    note.textContent = "That did not go through. Reload the page and try again.";
    main.querySelector(".page-head").after(note);
  }

  document.body.addEventListener("htmx:responseError", failed);
  document.body.addEventListener("htmx:sendError", failed);
})();
