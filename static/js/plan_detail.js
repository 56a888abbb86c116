// Deleting a saved plan asks first: it cannot be undone.
(function () {
  "use strict";
  var form = document.getElementById("plan-delete");
  if (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm("Delete this saved plan? This cannot be undone.")) {
        event.preventDefault();
      }
    });
  }
})();
