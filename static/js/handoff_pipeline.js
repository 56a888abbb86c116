// The sales pipeline (templates/handoff/pipeline.html).
// - htmx swaps the fragments that explain a refusal (403, 409, 422) like a 200.
// - The send-back form's reason picker says where the lead goes.
(function () {
  "use strict";

  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "^(403|409|422)$", swap: true, error: false },
    { code: "[23]..", swap: true },
    { code: "[45]..", swap: false, error: true },
  ];

  function showReason(select) {
    var option = select.options[select.selectedIndex];
    var hint = select.closest("form").querySelector("[data-reason-hint]");
    if (hint) {
      hint.textContent = option && option.value ? option.getAttribute("data-effect") : "";
    }
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-reason-select]")) {
      showReason(event.target);
    }
  });

  htmx.onLoad(function (root) {
    root.querySelectorAll("[data-reason-select]").forEach(showReason);
  });

  document.body.addEventListener("htmx:beforeSwap", function (event) {
    // A session that ended answers with the login page: go there for real.
    var url = event.detail.xhr.responseURL || "";
    if (url.indexOf("/accounts/login/") !== -1) {
      event.detail.shouldSwap = false;
      window.location.reload();
    }
  });

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
