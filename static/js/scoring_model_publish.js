// Publish page: follow the preview of what publishing would change, once a
// second, and show the page again with the counts once they are ready.
(function () {
  "use strict";

  var card = document.getElementById("preview");
  if (!card || card.getAttribute("data-state") !== "running") {
    return;
  }
  var bar = card.querySelector("progress");
  var text = document.getElementById("preview-text");
  var url = card.getAttribute("data-progress-url");
  // Give up after a minute of failed requests (logged out, server gone).
  var failuresLeft = 60;
  var busy = false;
  var timer = window.setInterval(poll, 1000);

  function show(progress) {
    bar.value = progress.percent;
    bar.textContent = progress.percent + "%";
    text.textContent = progress.text;
    card.setAttribute("data-state", progress.state);
    if (progress.state === "finished") {
      window.clearInterval(timer);
      // The counts are rendered by the server, with the rest of the page.
      window.location.reload();
    }
  }

  function poll() {
    if (busy) {
      return;
    }
    busy = true;
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("preview: HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (progress) {
        failuresLeft = 60;
        show(progress);
      })
      .catch(function () {
        failuresLeft -= 1;
        if (failuresLeft <= 0) {
          window.clearInterval(timer);
        }
      })
      .then(function () {
        busy = false;
      });
  }
})();
