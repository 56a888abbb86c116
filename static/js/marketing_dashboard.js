// Marketing dashboard: the funnel and weekly MQL charts, drawn from the
// json_script data beside their tables; a preset period applies at once.
(function () {
  "use strict";

  var INK = "#1f2937";
  var MUTED = "#9ca3af";
  var ACCENT = "#2563eb";
  var PALE = "#cbd5e1";

  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function baseOptions() {
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { position: "bottom", labels: { color: INK } } },
      scales: {
        x: { ticks: { color: INK }, grid: { display: false } },
        y: { beginAtZero: true, ticks: { color: INK, precision: 0 } }
      }
    };
  }

  function funnelChart() {
    var canvas = document.getElementById("funnel-chart");
    var funnel = data("funnel-chart-data");
    if (!canvas || !funnel) {
      return;
    }
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: funnel.labels,
        datasets: [
          { label: funnel.series[0].label, data: funnel.series[0].counts, backgroundColor: ACCENT },
          { label: funnel.series[1].label, data: funnel.series[1].counts, backgroundColor: PALE }
        ]
      },
      options: funnelOptions()
    });
  }

  // The first stage outnumbers the last by orders of magnitude: a log scale
  // keeps every stage's bar readable (the table beside it has the numbers).
  function funnelOptions() {
    var options = baseOptions();
    options.scales.y = {
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
    };
    return options;
  }

  function volumeChart() {
    var canvas = document.getElementById("volume-chart");
    var volume = data("volume-chart-data");
    if (!canvas || !volume) {
      return;
    }
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: volume.labels,
        datasets: [
          { type: "bar", label: "Delivered", data: volume.delivered, backgroundColor: ACCENT },
          {
            type: "line", label: "Committed", data: volume.committed,
            borderColor: MUTED, backgroundColor: MUTED, borderDash: [6, 4], pointRadius: 0
          }
        ]
      },
      options: baseOptions()
    });
  }

  function picker() {
    var form = document.getElementById("dashboard-period");
    if (!form) {
      return;
    }
    var period = form.elements.namedItem("period");
    var dates = [form.elements.namedItem("date_from"), form.elements.namedItem("date_to")];
    period.addEventListener("change", function () {
      if (period.value !== "custom") {
        dates.forEach(function (field) { field.value = ""; });
        form.submit();
      } else {
        dates[0].focus();
      }
    });
    dates.forEach(function (field) {
      field.addEventListener("input", function () { period.value = "custom"; });
    });
  }

  picker();
  if (window.Chart) {
    funnelChart();
    volumeChart();
  }
})();
