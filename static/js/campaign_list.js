// Campaigns: the spend and revenue chart per channel, drawn from the
// json_script data beside its table (the picker is campaign_picker.js).
(function () {
  "use strict";

  var INK = "#1f2937";
  var SPEND = "#9ca3af";
  var REVENUE = "#2563eb";

  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function channelChart() {
    var canvas = document.getElementById("channel-chart");
    var chart = data("channel-chart-data");
    if (!canvas || !chart) {
      return;
    }
    var money = function (value) {
      return chart.currency + Number(value).toLocaleString(undefined, { maximumFractionDigits: 0 });
    };
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: chart.labels,
        datasets: [
          { label: "Spend", data: chart.spend, backgroundColor: SPEND },
          { label: "Revenue (credited)", data: chart.revenue, backgroundColor: REVENUE }
        ]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: { position: "bottom", labels: { color: INK } },
          tooltip: {
            callbacks: {
              label: function (item) { return item.dataset.label + ": " + money(item.parsed.y); }
            }
          }
        },
        scales: {
          x: { ticks: { color: INK }, grid: { display: false } },
          y: { beginAtZero: true, ticks: { color: INK, callback: money } }
        }
      }
    });
  }

  if (window.Chart) {
    channelChart();
  }
})();
