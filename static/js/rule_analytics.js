// The charts of the rule analytics page (templates/crm/rule_analytics.html):
// each rule's lift of reaching SQL with its 95% interval, the MQL-to-SQL
// rate per score band and the rejections per week by reason, drawn from the
// json_script data beside the tables.
(function () {
  "use strict";

  var INK = "#1f2937";
  var ACCENT = "#2563eb";
  var PALE = "#cbd5e1";
  var MUTED = "#6b7280";
  var REASON_COLOURS = [
    "#2563eb", "#0891b2", "#7c3aed", "#65a30d", "#ca8a04",
    "#db2777", "#ea580c", "#475569", "#0d9488", "#9333ea"
  ];

  function data() {
    var node = document.getElementById("analytics-charts");
    return node && window.Chart ? JSON.parse(node.textContent) : null;
  }

  function liftChart(lift) {
    var canvas = document.getElementById("lift-chart");
    if (!canvas) {
      return;
    }
    // A row per rule, every label shown.
    canvas.parentNode.style.height = lift.labels.length * 26 + 90 + "px";
    // A floating bar from the interval's low to its high, and a point at the
    // lift; a log scale puts 0.5 and 2 as far from 1.
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: lift.labels,
        datasets: [
          {
            type: "scatter",
            label: "Lift of reaching SQL",
            data: lift.lift
              .map(function (value, i) {
                return { x: value, y: lift.labels[i] };
              })
              .filter(function (point) {
                return point.x > 0;
              }),
            backgroundColor: INK,
            pointRadius: 4
          },
          {
            label: "95% interval",
            data: lift.interval,
            backgroundColor: PALE,
            borderColor: MUTED,
            borderWidth: 1,
            barPercentage: 0.5
          }
        ]
      },
      options: {
        indexAxis: "y",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { position: "bottom", labels: { color: INK } } },
        scales: {
          x: {
            type: "logarithmic",
            title: { display: true, text: "Lift (log scale; 1 = no difference)", color: INK },
            ticks: {
              color: INK,
              callback: function (value) {
                var text = String(value);
                return /^(0\.)?0*(1|2|5)0*$/.test(text) ? text : "";
              }
            }
          },
          y: { type: "category", ticks: { color: INK, autoSkip: false }, grid: { display: false } }
        }
      }
    });
  }

  function bandChart(bands) {
    var canvas = document.getElementById("band-chart");
    if (!canvas) {
      return;
    }
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: bands.labels,
        datasets: [{ label: "MQL to SQL (%)", data: bands.rate, backgroundColor: ACCENT }]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: false } },
        scales: {
          x: { title: { display: true, text: "Score band (from; " + bands.width + " points each)", color: INK }, ticks: { color: INK }, grid: { display: false } },
          y: { min: 0, title: { display: true, text: "MQL to SQL (%)", color: INK }, ticks: { color: INK } }
        }
      }
    });
  }

  function weekChart(weeks) {
    var canvas = document.getElementById("week-chart");
    if (!canvas) {
      return;
    }
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: weeks.labels,
        datasets: weeks.datasets.map(function (set, i) {
          return {
            label: (set.audience === "sdr" ? "SDR: " : "Sales: ") + set.label,
            data: set.data,
            backgroundColor: REASON_COLOURS[i % REASON_COLOURS.length],
            stack: "reasons"
          };
        })
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { position: "bottom", labels: { color: INK, boxWidth: 12 } } },
        scales: {
          x: { stacked: true, ticks: { color: INK }, grid: { display: false } },
          y: { stacked: true, min: 0, title: { display: true, text: "Rejections", color: INK }, ticks: { color: INK, precision: 0 } }
        }
      }
    });
  }

  var charts = data();
  if (charts) {
    liftChart(charts.lift);
    bandChart(charts.bands);
    weekChart(charts.weeks);
  }
})();
