// Draws every Plotly figure on the page from its JSON data block (mangaconsole/lib/charts.py), so no
// page needs an inline script under the Content-Security-Policy.
(function () {
  function draw() {
    if (!window.Plotly) return;
    document.querySelectorAll(".plotly-chart[data-figure]").forEach(function (div) {
      if (div.dataset.drawn) return;
      const block = document.getElementById(div.dataset.figure);
      if (!block) return;
      const spec = JSON.parse(block.textContent);
      Plotly.newPlot(div, spec.data, spec.layout, spec.config);
      div.dataset.drawn = "1";
    });
  }
  // Printing narrows the page: redraw every chart to the printed width so none runs off the sheet.
  function fit() {
    if (!window.Plotly) return;
    document.querySelectorAll(".plotly-chart[data-drawn]").forEach(function (div) { Plotly.Plots.resize(div); });
  }
  window.addEventListener("beforeprint", fit);
  if (window.matchMedia) window.matchMedia("print").addEventListener("change", fit);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
