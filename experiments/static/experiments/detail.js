// The experiment results page: renders the per-arm table and the three Plotly charts from the
// analysis JSON, and polls it every 3 s while the experiment runs (no inline script: CSP).
(function () {
  const page = document.getElementById("experiment-page");
  if (!page) return;
  const url = page.dataset.resultsUrl;
  const pct = x => (x === null || x === undefined || !isFinite(x)) ? "—" : (100 * x).toFixed(2) + "%";
  let lastStatus = page.dataset.status;
  function render(d) {
    const r = d.result, labels = d.labels;
    const body = document.getElementById("results-body");
    body.innerHTML = "";
    for (const [metric, arms] of Object.entries(r.metrics)) {
      for (const [key, row] of Object.entries(arms)) {
        const tr = document.createElement("tr");
        const t = row.test;
        const decision = !t ? "control" : row.significant ? "significant" : (row.enough ? "not significant" : "collecting");
        tr.innerHTML = `<td>${labels[metric] || metric}</td><td>${key}</td><td>${row.n}</td><td>${row.mean.toFixed(4)}</td>` +
          `<td>${t ? pct(t.effect) + " [" + pct(t.ci_low) + ", " + pct(t.ci_high) + "]" : ""}</td>` +
          `<td>${t ? t.p_value.toFixed(4) : ""}</td><td data-testid="decision-${metric}-${key}">${decision}</td>`;
        body.appendChild(tr);
      }
    }
    document.getElementById("srm").textContent = r.srm_warning ? `sample-ratio mismatch! p = ${r.srm_p_value.toExponential(2)}` : `split OK (SRM p = ${r.srm_p_value.toFixed(3)})`;
    document.getElementById("verdict").textContent = `Verdict: ${r.verdict}` + (r.winners.length ? ` — winner: ${r.winners.join(", ")}` : "") +
      (r.harms.length ? ` — harm: ${r.harms.map(h => h.metric + " in " + h.arm).join(", ")}` : "") + ` · analysed ${r.at}`;
    const st = document.getElementById("exp-status"); st.textContent = d.status_label; st.className = "status " + d.status;
    const sr = document.getElementById("stop-reason"); sr.textContent = d.stop_reason; sr.hidden = !d.stop_reason;
    const tl = d.timeline, xs = tl.map(p => p.at);
    const arms = r.arms.map(a => a.key);
    const effect = [];
    for (const a of r.arms.filter(a => !a.control)) {
      const lo = tl.map(p => p.arms[a.key].ci_low), hi = tl.map(p => p.arms[a.key].ci_high);
      effect.push({x: xs, y: hi.map(v => isFinite(v) ? 100 * v : null), mode: "lines", line: {width: 0}, showlegend: false, hoverinfo: "skip"});
      effect.push({x: xs, y: lo.map(v => isFinite(v) ? 100 * v : null), mode: "lines", line: {width: 0}, fill: "tonexty", name: a.key + " 95% sequence"});
      effect.push({x: xs, y: tl.map(p => 100 * (p.arms[a.key].effect || 0)), mode: "lines+markers", name: a.key + " effect"});
    }
    Plotly.react("chart-effect", effect, {title: "Cumulative effect on " + (labels[Object.keys(r.metrics)[0]] || ""), yaxis: {title: "% vs control", zeroline: true}, height: 320, margin: {t: 40, l: 50, r: 10, b: 40}}, {displaylogo: false});
    Plotly.react("chart-metric", arms.map(k => ({x: xs, y: tl.map(p => p.arms[k].mean), mode: "lines+markers", name: k})), {title: "Primary metric per arm", height: 320, margin: {t: 40, l: 50, r: 10, b: 40}}, {displaylogo: false});
    Plotly.react("chart-traffic", arms.map(k => ({x: xs, y: tl.map(p => p.arms[k].n), mode: "lines", stackgroup: "one", name: k})), {title: "Sessions per arm (cumulative)", height: 320, margin: {t: 40, l: 50, r: 10, b: 40}}, {displaylogo: false});
  }
  render(JSON.parse(document.getElementById("initial-data").textContent));
  async function tick() {
    try {
      const resp = await fetch(url, {credentials: "same-origin"});
      if (resp.ok) {
        const d = await resp.json();
        render(d);
        window.experimentTicks = (window.experimentTicks || 0) + 1;
        if (d.status !== lastStatus && (d.status === "stopped" || d.status === "archived")) { window.location.reload(); return; }
        lastStatus = d.status;
        if (d.status !== "running") return;
      }
    } catch (e) {}
    setTimeout(tick, 3000);
  }
  if (lastStatus === "running") setTimeout(tick, 3000);
})();
