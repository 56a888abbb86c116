// MQL planner: the reference dates only apply with "Dates I pick" (the
// plan's chart is drawn by plan_figures.js).
(function () {
  "use strict";

  function referenceDates() {
    var form = document.getElementById("plan-form");
    if (!form) {
      return;
    }
    var choice = form.elements.namedItem("reference");
    var dates = [form.elements.namedItem("reference_from"), form.elements.namedItem("reference_to")];
    function sync() {
      var custom = choice.value === "custom";
      dates.forEach(function (field) { field.disabled = !custom; });
    }
    choice.addEventListener("change", sync);
    sync();
  }

  referenceDates();
})();
