// The campaign pages' picker (templates/crm/partials/campaign_picker.html):
// a preset period or a model applies at once.
(function () {
  "use strict";

  var form = document.getElementById("campaign-picker");
  if (!form) {
    return;
  }
  var period = form.elements.namedItem("period");
  var model = form.elements.namedItem("model");
  var dates = [form.elements.namedItem("date_from"), form.elements.namedItem("date_to")];
  period.addEventListener("change", function () {
    if (period.value !== "custom") {
      dates.forEach(function (field) { field.value = ""; });
      form.submit();
    } else {
      dates[0].focus();
    }
  });
  model.addEventListener("change", function () {
    if (period.value !== "custom" || (dates[0].value && dates[1].value)) {
      form.submit();
    }
  });
  dates.forEach(function (field) {
    field.addEventListener("input", function () { period.value = "custom"; });
  });
})();
