// The import job page: refresh the progress card every second until the job
// has finished, then reload once so the notes and rejected rows show.
(function () {
  "use strict";

  const POLL_MS = 1000;
  const card = document.getElementById("import-progress");
  if (!card || card.dataset.finished === "true") {
    return;
  }

  async function poll() {
    try {
      const response = await fetch(card.dataset.progressUrl, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
      if (response.ok) {
        card.innerHTML = await response.text();
        const head = card.querySelector("[data-finished]");
        if (head && head.dataset.finished === "true") {
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      // A dropped connection: keep the last numbers and try again.
    }
    window.setTimeout(poll, POLL_MS);
  }

  window.setTimeout(poll, POLL_MS);
})();
