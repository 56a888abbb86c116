// Tracking source page: copy the install tag, host or key with one click.
(function () {
  "use strict";

  function text(element) {
    return element.value !== undefined ? element.value : element.textContent;
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) {
      return;
    }
    button.addEventListener("click", function () {
      var label = button.textContent;
      var done = function () {
        button.textContent = "Copied";
        window.setTimeout(function () {
          button.textContent = label;
        }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text(target)).then(done, function () {});
        return;
      }
      // Plain http: select the text for Ctrl+C.
      if (target.select) {
        target.focus();
        target.select();
      } else {
        window.getSelection().selectAllChildren(target);
      }
    });
  });
})();
