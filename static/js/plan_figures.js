// The chart of a plan (templates/crm/partials/plan_figures.html): leads
// needed, expected by today and entered so far per stage, drawn from the
// json_script data beside its tables. The planner and a saved plan's page
// both show it.
(function () {
  "use strict";

  var INK = "#1f2937";
  var ACCENT = "#2563eb";
  var PALE = "#cbd5e1";
  var MUTED = "#6b7280";

  function planChart() {
    var canvas = document.getElementById("plan-chart");
    var node = document.getElementById("plan-chart-data");
    if (!canvas || !node || !window.Chart) {
      return;
    }
    var data = JSON.parse(node.textContent);
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: "Needed", data: data.needed, backgroundColor: PALE },
          { label: "Expected by today", data: data.expected, backgroundColor: MUTED },
          { label: "Entered so far", data: data.so_far, backgroundColor: ACCENT }
        ]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { position: "bottom", labels: { color: INK } } },
        scales: {
          x: { ticks: { color: INK }, grid: { display: false } },
          // Leads outnumber customers by orders of magnitude: a log scale
          // keeps every stage readable (the tables have the numbers).
          y: {
            type: "logarithmic",
            min: 0.5,
            title: { display: true, text: "Leads (log scale)", color: INK },
            ticks: {
              color: INK,
              callback: function (value) {
                var text = String(value);
                return /^10*$/.test(text) ? Number(value).toLocaleString() : "";
              }
            }
          }
        }
      }
    });
  }

  planChart();
})();
