/* Draws the dry-run report's charts from the JSON embedded in the page.
   Amounts travel as exact decimal strings and become numbers only here, for drawing.
   After each chart has drawn, its canvas gets data-drawn="true" and data-painted=<pixels
   that are not blank>; the body gets data-charts-drawn=<charts>, so a headless browser
   can tell that the charts really rendered. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var NEW = "#2f6fde", OLD = "#9aa5b4", PALETTE = ["#2f6fde", "#f39c12", "#1b8a4b", "#8e44ad", "#c0392b", "#16a085"];
  var drawn = 0;

  function num(text) { return text === null || text === undefined ? 0 : Number(text); }

  function painted(canvas) {
    var ctx = canvas.getContext("2d");
    var pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    var count = 0;
    for (var i = 3; i < pixels.length; i += 4) { if (pixels[i] !== 0) { count++; } }
    return count;
  }

  var marker = {
    id: "drawnMarker",
    afterRender: function (chart) {
      var canvas = chart.canvas;
      if (canvas.dataset.drawn === "true") { return; }
      canvas.dataset.drawn = "true";
      canvas.dataset.painted = String(painted(canvas));
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

  function series(label, rows, field, color) {
    return { label: label, data: rows.map(function (r) { return num(r[field]); }), backgroundColor: color,
      borderColor: color, borderWidth: 2, pointRadius: 2, fill: false };
  }

  var months = data.months.map(function (r) { return r.month; });
  var issued = [series(data.label, data.months, "points_issued", NEW)];
  var liability = [series(data.label, data.months, "liability_points", NEW)];
  if (data.baseline) {
    issued.push(series(data.baseline.label, data.baseline.months, "points_issued", OLD));
    liability.push(series(data.baseline.label, data.baseline.months, "liability_points", OLD));
  }
  chart("chart-issued", { type: "bar", data: { labels: months, datasets: issued } });
  chart("chart-liability", { type: "line", data: { labels: months, datasets: liability } });

  var tierSets = [{ label: data.label, data: data.tiers.map(function (t) { return t.members; }), backgroundColor: NEW }];
  if (data.baseline) {
    tierSets.push({ label: data.baseline.label, data: data.tiers.map(function (t) { return t.baseline; }),
      backgroundColor: OLD });
  }
  chart("chart-tiers", { type: "bar", data: { labels: data.tiers.map(function (t) { return t.tier; }),
    datasets: tierSets } });

  var ruleSets = [{ label: data.label, data: data.rules.map(function (r) { return num(r.points); }),
    backgroundColor: PALETTE[0] }];
  if (data.baseline) {
    ruleSets.push({ label: data.baseline.label, data: data.rules.map(function (r) { return num(r.baseline); }),
      backgroundColor: OLD });
  }
  chart("chart-rules", { type: "bar", data: { labels: data.rules.map(function (r) { return r.rule; }),
    datasets: ruleSets }, options: { indexAxis: "y" } });
})();
