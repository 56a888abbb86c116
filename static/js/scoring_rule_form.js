// Rule form: show the fields the chosen kind uses and the help for the chosen
// comparison. Hidden fields are still posted; the server keeps only the ones
// the kind uses and validates everything regardless.
(function () {
  "use strict";

  var form = document.getElementById("rule-form");
  if (!form) {
    return;
  }
  var helpData = document.getElementById("value-help");
  var valueHelp = helpData ? JSON.parse(helpData.textContent) : {};

  function chosenKind() {
    var checked = form.querySelector("input[name=kind]:checked");
    return checked ? checked.value : "";
  }

  function showKind() {
    var kind = chosenKind();
    Array.prototype.forEach.call(form.querySelectorAll("[data-kinds]"), function (el) {
      el.hidden = el.getAttribute("data-kinds").split(" ").indexOf(kind) === -1;
    });
  }

  // The value field of a comparison: hidden for "is empty", with help that
  // says what to type for the chosen comparison.
  function showValue(select) {
    var field = form.querySelector('[data-value-for="' + select.id + '"]');
    if (!field) {
      return;
    }
    field.hidden = select.value === "is_empty";
    var help = field.querySelector("[data-value-help]");
    if (!help.hasAttribute("data-default")) {
      help.setAttribute("data-default", help.textContent);
    }
    help.textContent = valueHelp[select.value] || help.getAttribute("data-default");
  }

  Array.prototype.forEach.call(form.querySelectorAll("input[name=kind]"), function (radio) {
    radio.addEventListener("change", showKind);
  });
  ["id_operator", "id_property_operator"].forEach(function (id) {
    var select = document.getElementById(id);
    if (select) {
      select.addEventListener("change", function () {
        showValue(select);
      });
      showValue(select);
    }
  });
  // Suggestions from the leads' data: a key fills the attribute (and htmx
  // fetches its values); a value fills the value field, or is added to the
  // options of "is one of" and "is none of".
  var attribute = document.getElementById("id_attribute");
  var value = document.getElementById("id_value");
  var operator = document.getElementById("id_operator");
  form.addEventListener("click", function (event) {
    var button = event.target.closest("[data-fill-attribute], [data-fill-value]");
    if (!button) {
      return;
    }
    if (button.hasAttribute("data-fill-attribute")) {
      attribute.value = button.getAttribute("data-fill-attribute");
      attribute.dispatchEvent(new Event("change", { bubbles: true }));
      attribute.focus();
      return;
    }
    var picked = button.getAttribute("data-fill-value");
    var listed = operator && (operator.value === "one_of" || operator.value === "none_of");
    if (listed && value.value.trim()) {
      var options = value.value.split(",").map(function (o) { return o.trim(); });
      if (options.indexOf(picked) === -1) {
        value.value = options.filter(Boolean).concat([picked]).join(", ");
      }
    } else {
      value.value = picked;
    }
    value.focus();
  });

  showKind();
})();
