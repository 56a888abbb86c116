// Follow a background job's progress card once a second. The card (found by
// id) carries data-state="running" while the job runs and data-progress-url,
// the JSON progress to poll; it holds a <progress> bar, and a text element
// shows the job's own words. The page's script says what a report means:
// reloadNow (reload before showing it), reloadWhen (reload after showing it),
// stopWhen (stop polling). Nothing happens unless the job is running.
window.leadflowFollowProgress = function (options) {
  "use strict";

  var card = document.getElementById(options.card);
  if (!card || card.getAttribute("data-state") !== "running") {
    return;
  }
  var bar = card.querySelector("progress");
  var text = document.getElementById(options.text);
  var url = card.getAttribute("data-progress-url");
  // Give up after a minute of failed requests (logged out, server gone).
  var failuresLeft = 60;
  var busy = false;
  var timer = window.setInterval(poll, 1000);

  function holds(test, progress) {
    return Boolean(test && test(progress));
  }

  function show(progress) {
    if (holds(options.reloadNow, progress)) {
      window.clearInterval(timer);
      window.location.reload();
      return;
    }
    bar.value = progress.percent;
    bar.textContent = progress.percent + "%";
    text.textContent = progress.text;
    card.setAttribute("data-state", progress.state);
    if (holds(options.reloadWhen, progress)) {
      window.clearInterval(timer);
      window.location.reload();
    } else if (holds(options.stopWhen, progress)) {
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
          throw new Error(options.card + ": HTTP " + response.status);
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
};
