// Shared by the handoff pages (SAL queue, handoff page, pipeline); load it
// before the page's own script.
// - htmx swaps the fragments that explain a refusal (403, 409, 422) like a 200.
// - A reason picker says where the lead goes, and shows the "duplicate of
//   lead #" field only for the merge reason. Once a reason is picked, its
//   "Choose a reason…" placeholder can no longer be picked back, and the
//   message of a refused submit about the reason goes away.
// - A session that ended answers with the login page: go there for real.
(function () {
  "use strict";

  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "^(403|409|422)$", swap: true, error: false },
    { code: "[23]..", swap: true },
    { code: "[45]..", swap: false, error: true },
  ];

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

  function reasonChosen(select) {
    if (!select.value) {
      return;
    }
    var placeholder = select.querySelector('option[value=""]');
    if (placeholder) {
      placeholder.disabled = true;
      placeholder.hidden = true;
    }
    var field = select.closest(".field");
    if (!field || !field.classList.contains("has-error")) {
      return;
    }
    field.classList.remove("has-error");
    select.removeAttribute("aria-invalid");
    field.querySelectorAll(".field-error").forEach(function (message) {
      var described = (select.getAttribute("aria-describedby") || "")
        .split(" ")
        .filter(function (id) {
          return id && id !== message.id;
        });
      select.setAttribute("aria-describedby", described.join(" "));
      message.remove();
    });
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-reason-select]")) {
      showReason(event.target);
      reasonChosen(event.target);
    }
  });

  htmx.onLoad(function (root) {
    root.querySelectorAll("[data-reason-select]").forEach(showReason);
  });

  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var url = event.detail.xhr.responseURL || "";
    if (url.indexOf("/accounts/login/") !== -1) {
      event.detail.shouldSwap = false;
      window.location.reload();
    }
  });
})();
