// The deployment page: polls the stage logs and statuses while the pipeline runs, and reloads when
// the deployment waits for approval or finishes (no inline script: CSP).
(function () {
  const box = document.getElementById("stages");
  if (box.dataset.finished === "1") return;
  let lastState = box.dataset.state;
  async function tick() {
    const r = await fetch(box.dataset.url, {credentials: "same-origin"});
    if (r.ok) {
      const p = await r.json();
      for (const s of p.stages) {
        const card = box.querySelector(`[data-stage="${s.name}"]`);
        const badge = card.querySelector(".status");
        badge.textContent = s.status_label; badge.className = "status " + s.status;
        card.querySelector(".log").textContent = s.log;
        card.querySelector(".seconds").textContent = s.seconds ? s.seconds + " s" : "";
      }
      const st = document.getElementById("dep-state");
      st.textContent = p.state_label; st.className = "status " + p.state;
      const f = document.getElementById("dep-failure");
      f.textContent = p.failure; f.hidden = !p.failure;
      if (p.state !== lastState && (p.state === "waiting_approval" || p.finished)) { window.location.reload(); return; }
      lastState = p.state;
      if (p.finished) return;
    }
    setTimeout(tick, 700);
  }
  setTimeout(tick, 700);
})();
