// Model page: follow the rescore that publishing started, once a second,
// until it has finished (or stopped because a newer model was published;
// a failed rescore reloads the page, which shows the failure and a retry).
(function () {
  "use strict";

  var card = document.getElementById("rescore");
  if (!card || card.getAttribute("data-state") !== "running") {
    return;
  }
  var bar = card.querySelector("progress");
  var text = document.getElementById("rescore-text");
  var url = card.getAttribute("data-progress-url");
  // Give up after a minute of failed requests (logged out, server gone).
  var failuresLeft = 60;
  var busy = false;
  var timer = window.setInterval(poll, 1000);

  function show(progress) {
    if (progress.state === "failed") {
      // The page shows why, and the retry button, when rendered afresh.
      window.clearInterval(timer);
      window.location.reload();
      return;
    }
    bar.value = progress.percent;
    bar.textContent = progress.percent + "%";
    text.textContent = progress.text;
    card.setAttribute("data-state", progress.state);
    if (progress.finished_at || progress.state !== "running") {
      window.clearInterval(timer);
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
          throw new Error("progress: HTTP " + response.status);
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
