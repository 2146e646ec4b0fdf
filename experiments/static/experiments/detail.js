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
        const blind = t && t.informative === false;  // not enough information: no verdict at all
        const decision = !t ? "control" : row.significant ? "significant" : blind ? "not enough information"
          : (row.enough ? "not significant" : "collecting");
        tr.innerHTML = `<td>${labels[metric] || metric}</td><td>${key}</td><td>${row.n}</td><td>${row.mean.toFixed(4)}</td>` +
          `<td>${!t ? "" : blind ? t.note.replace(/^not enough information: /, "") : row.enough ? pct(t.effect) + " [" + pct(t.ci_low) + ", " + pct(t.ci_high) + "]"
            : `not enough data yet (${r.min_units_per_arm} sessions per arm)`}</td>` +
          `<td>${!t || blind ? "" : t.p_value.toFixed(4)}</td><td data-testid="decision-${metric}-${key}">${decision}</td>`;
        body.appendChild(tr);
      }
    }
    document.getElementById("srm").textContent = r.srm_note ? `split: ${r.srm_note}` : r.srm_warning
      ? `sample-ratio mismatch! p = ${r.srm_p_value.toExponential(2)}` : `split OK (SRM p = ${r.srm_p_value.toFixed(3)})`;
    document.getElementById("verdict").textContent = `Verdict: ${r.verdict}` + (r.winners.length ? ` — winner: ${r.winners.join(", ")}` : "") +
      (r.harms.length ? ` — harm: ${r.harms.map(h => h.metric + " in " + h.arm).join(", ")}` : "") + ` · analysed ${r.at}`;
    const st = document.getElementById("exp-status"); st.textContent = d.status_label; st.className = "status " + d.status;
    const sr = document.getElementById("stop-reason"); sr.textContent = d.stop_reason; sr.hidden = !d.stop_reason;
    const tl = d.timeline, xs = tl.map(p => p.at);
    const arms = r.arms.map(a => a.key);
    const control = (r.arms.find(a => a.control) || {}).key;
    const floor = r.min_units_per_arm || 0;
    // An interval means something only once both arms have the minimum sessions: before that, no band.
    const ready = (p, key) => p.arms[key].n >= floor && (!control || p.arms[control].n >= floor);
    const effect = [];
    for (const a of r.arms.filter(a => !a.control)) {
      const band = (v, p) => ready(p, a.key) && isFinite(v) ? 100 * v : null;
      effect.push({x: xs, y: tl.map(p => band(p.arms[a.key].ci_high, p)), mode: "lines", line: {width: 0}, showlegend: false, hoverinfo: "skip"});
      effect.push({x: xs, y: tl.map(p => band(p.arms[a.key].ci_low, p)), mode: "lines", line: {width: 0}, fill: "tonexty", name: a.key + " 95% sequence"});
      // a point without information (its test says why) is a gap, never an effect of 0
      const known = p => ready(p, a.key) && p.arms[a.key].effect !== null && p.arms[a.key].effect !== undefined;
      effect.push({x: xs, y: tl.map(p => known(p) ? 100 * p.arms[a.key].effect : null), mode: "lines+markers", name: a.key + " effect"});
    }
    const treated = r.arms.filter(a => !a.control);
    const enough = tl.some(p => treated.some(a => ready(p, a.key) && p.arms[a.key].effect !== null && p.arms[a.key].effect !== undefined));
    const reached = tl.some(p => treated.some(a => ready(p, a.key)));
    const last = tl.length ? tl[tl.length - 1] : null;
    const note = last && treated.map(a => last.arms[a.key].note).find(n => n);
    const waiting = {text: reached && note ? note.charAt(0).toUpperCase() + note.slice(1)
      : `Not enough data yet: intervals appear once each arm has ${floor} sessions`, showarrow: false,
      xref: "paper", yref: "paper", x: 0.5, y: 0.75, font: {size: 14, color: "#5d6b7a"}};
    const layout = (title, ytitle, extra) => Object.assign({
      title: {text: title}, height: 320, margin: {t: 40, l: 60, r: 10, b: 50},
      xaxis: {title: {text: "Time (UTC)"}, type: "date", visible: xs.length > 0},
      yaxis: {title: {text: ytitle}, visible: xs.length > 0},
    }, extra || {});
    const metricLabel = labels[Object.keys(r.metrics)[0]] || "";
    Plotly.react("chart-effect", effect, layout("Cumulative effect on " + metricLabel, "% vs control",
      {annotations: enough ? [] : [waiting]}), {displaylogo: false});
    Plotly.react("chart-metric", arms.map(k => ({x: xs, y: tl.map(p => p.arms[k].mean), mode: "lines+markers", name: k})),
      layout(metricLabel + " per arm", metricLabel || "value", {annotations: xs.length ? [] : [waiting]}), {displaylogo: false});
    Plotly.react("chart-traffic", arms.map(k => ({x: xs, y: tl.map(p => p.arms[k].n), mode: "lines", stackgroup: "one", name: k})),
      layout("Sessions per arm (cumulative)", "sessions", {yaxis: {title: {text: "sessions"}, rangemode: "nonnegative", visible: xs.length > 0},
        annotations: xs.length ? [] : [{...waiting, text: "No sessions yet"}]}), {displaylogo: false});
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
