// Publish page: follow the preview of what publishing would change, once a
// second, and show the page again with the counts once they are ready.
window.leadflowFollowProgress({
  card: "preview",
  text: "preview-text",
  // The counts are rendered by the server, with the rest of the page.
  reloadWhen: function (progress) {
    return progress.state === "finished";
  },
});
