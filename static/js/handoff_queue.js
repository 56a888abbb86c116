// SAL queue page (templates/handoff/queue.html).
// - htmx swaps the fragments that explain a refusal (403, 409, 422) like a 200.
// - The reject form's reason picker says where the lead goes, and shows the
//   "duplicate of lead #" field only for the merge reason.
// - The queue refreshes every 30 s (hx-trigger on #queue-sections), but not
//   while a row is being edited: a form open, a field focused or a request
//   on its way. The next tick after that refreshes it.
(function () {
  "use strict";

  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "^(403|409|422)$", swap: true, error: false },
    { code: "[23]..", swap: true },
    { code: "[45]..", swap: false, error: true },
  ];

  var sections = document.getElementById("queue-sections");

  function showReason(select) {
    var form = select.closest("form");
    var option = select.options[select.selectedIndex];
    var chosen = option && option.value ? option : null;
    var hint = form.querySelector("[data-reason-hint]");
    if (hint) {
      hint.textContent = chosen ? chosen.getAttribute("data-effect") : "";
    }
    var duplicate = form.querySelector("[data-duplicate-field]");
    if (duplicate) {
      var merge = chosen && chosen.getAttribute("data-action") === "merge";
      duplicate.hidden = !merge && !duplicate.classList.contains("has-error");
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
    // A session that ended answers with the login page: go there for real.
    var url = event.detail.xhr.responseURL || "";
    if (url.indexOf("/accounts/login/") !== -1) {
      event.detail.shouldSwap = false;
      window.location.reload();
      return;
    }
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
