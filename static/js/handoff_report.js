// SLA report page: a preset period applies at once; typing dates makes it custom.
(function () {
  "use strict";

  var form = document.getElementById("report-filters");
  if (!form) {
    return;
  }
  var period = form.elements.namedItem("period");
  var dates = [form.elements.namedItem("date_from"), form.elements.namedItem("date_to")];

  function submit() {
    if (typeof form.requestSubmit === "function") {
      form.requestSubmit();
    } else {
      form.submit();
    }
  }

  // A preset ignores the dates, so clear them rather than leave them stale.
  period.addEventListener("change", function () {
    if (period.value !== "custom") {
      dates.forEach(function (field) { field.value = ""; });
      submit();
    } else {
      dates[0].focus();
    }
  });

  dates.forEach(function (field) {
    field.addEventListener("input", function () {
      period.value = "custom";
    });
  });

  // Keep the query string short: leave empty fields out.
  form.addEventListener("submit", function () {
    Array.prototype.forEach.call(form.elements, function (field) {
      if (field.name && field.value === "") {
        field.disabled = true;
      }
    });
    window.setTimeout(function () {
      Array.prototype.forEach.call(form.elements, function (field) {
        field.disabled = false;
      });
    }, 0);
  });
})();
