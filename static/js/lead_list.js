// Lead list page: keep filter URLs short and apply a new sort at once.
(function () {
  "use strict";

  var form = document.getElementById("lead-filters");
  if (!form) {
    return;
  }

  // Leave empty fields out of the query string (?q=&owner=&... helps nobody),
  // and drop the page cursor: new filters start at the first page.
  form.addEventListener("submit", function () {
    Array.prototype.forEach.call(form.elements, function (field) {
      if (field.name && field.type !== "checkbox" && field.value === "") {
        field.disabled = true;
      }
    });
    // Re-enable after the browser has read the form, for the back button.
    window.setTimeout(function () {
      Array.prototype.forEach.call(form.elements, function (field) {
        field.disabled = false;
      });
    }, 0);
  });

  var sort = document.getElementById("id_sort");
  if (sort) {
    sort.addEventListener("change", function () {
      if (typeof form.requestSubmit === "function") {
        form.requestSubmit();
      } else {
        form.submit();
      }
    });
  }
})();
