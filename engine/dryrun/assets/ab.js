/* Draws the A/B report's charts from the JSON embedded in the page. Figures travel as exact
   decimal strings and become numbers only here, for drawing. As in the dry-run's report, each
   drawn canvas gets data-drawn="true" and the body data-charts-drawn=<charts drawn>, so a
   headless browser can tell that the charts really rendered. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var PALETTE = ["#9aa5b4", "#2f6fde", "#f39c12", "#8e44ad", "#16a085", "#c0392b"];
  var FIGURES = ["spend", "visits", "points"];
  var drawn = 0;

  function num(text) { return text === null || text === undefined ? 0 : Number(text); }

  var marker = {
    id: "drawnMarker",
    afterRender: function (chart) {
      var canvas = chart.canvas;
      if (canvas.dataset.drawn === "true") { return; }
      canvas.dataset.drawn = "true";
      drawn += 1;
      document.body.dataset.chartsDrawn = String(drawn);
    }
  };

  function chart(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { legend: { position: "bottom" } } }, config.options || {});
    config.plugins = [marker];
    new Chart(canvas, config);
  }

  // each figure per member, one bar per variant (the control in grey)
  chart("chart-per-member", { type: "bar", data: { labels: FIGURES, datasets: data.variants.map(function (v, i) {
    return { label: v.variant, backgroundColor: PALETTE[i % PALETTE.length],
      data: FIGURES.map(function (f) { return num(v[f + "_per_member"]); }) };
  }) } });

  // the uplift as a floating bar from the interval's low end to its high end, in percent
  var rows = data.uplift;
  chart("chart-uplift", { type: "bar", data: { labels: rows.map(function (u) { return u.variant + ": " + u.figure; }),
    datasets: [{ label: "95% interval of the uplift (%)", backgroundColor: "#2f6fde",
      data: rows.map(function (u) { return [num(u.uplift_low) * 100, num(u.uplift_high) * 100]; }) },
    { type: "line", label: "estimate (%)", showLine: false, pointRadius: 4, borderColor: "#1b1f24",
      data: rows.map(function (u) { return num(u.uplift) * 100; }) }] }, options: { indexAxis: "x" } });
})();
