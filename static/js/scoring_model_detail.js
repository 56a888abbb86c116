// Model page: follow the rescore that publishing started, once a second,
// until it has finished (or stopped because a newer model was published;
// a failed rescore reloads the page, which shows the failure and a retry).
window.leadflowFollowProgress({
  card: "rescore",
  text: "rescore-text",
  // The page shows why, and the retry button, when rendered afresh.
  reloadNow: function (progress) {
    return progress.state === "failed";
  },
  stopWhen: function (progress) {
    return Boolean(progress.finished_at) || progress.state !== "running";
  },
});
