// Keyboard-first scoring, after Label Studio's hotkeys: every score, flag, skip and submit has a key.
(function () {
  const form = document.getElementById("score-form");
  if (!form) return;
  const skipForm = document.getElementById("skip-form");
  const reason = document.getElementById("skip-reason");
  const help = document.getElementById("help");
  const missing = document.getElementById("missing");
  const comment = document.getElementById("comment");
  const dims = Array.from(form.querySelectorAll("fieldset.dim"));
  const jump = {f: "factual", h: "helpful", t: "tone", o: "format"};
  const flagKeys = {u: "unsafe", p: "pii", w: "wrong_intent"};
  let active = Math.max(0, dims.findIndex((d) => !d.querySelector("input:checked")));
  let lastRenew = Date.now();

  function show() { dims.forEach((d, i) => d.classList.toggle("active", i === active)); }
  function move(step) { active = Math.min(dims.length - 1, Math.max(0, active + step)); show(); }
  function pick(name, value) {
    const input = form.querySelector(`input[name="${name}"][value="${value}"]`);
    if (input) input.checked = true;
  }
  function unanswered() {
    return dims.filter((d) => !d.querySelector("input:checked")).map((d) => d.querySelector("legend").textContent.replace(/^\s*\S\s/, "").trim());
  }
  function submit() {
    const left = unanswered();
    if (left.length) {
      missing.hidden = false;
      missing.textContent = "Still to score: " + left.join(", ");
      active = dims.findIndex((d) => !d.querySelector("input:checked"));
      show();
      return;
    }
    form.submit();
  }
  function renew() {
    if (Date.now() - lastRenew < 60000) return;
    lastRenew = Date.now();
    const token = form.querySelector("[name=csrfmiddlewaretoken]").value;
    fetch(form.dataset.renew, {method: "POST", headers: {"X-CSRFToken": token}, credentials: "same-origin"}).then((r) => {
      if (r.status === 409) { missing.hidden = false; missing.textContent = "Your hold on this item ran out; reload for the next item."; }
    });
  }

  document.addEventListener("keydown", (e) => {
    renew();
    const typing = e.target.matches("textarea, input[type=text], input:not([type])");
    if (typing) {
      if (e.key === "Escape") { e.target.blur(); if (!skipForm.hidden && e.target === reason) { skipForm.hidden = true; } e.preventDefault(); }
      else if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && e.target === comment) { e.preventDefault(); submit(); }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key.toLowerCase();
    if (/^[1-5]$/.test(k) && dims[active] && dims[active].dataset.dim !== "purchase") {
      pick(dims[active].dataset.dim, k); missing.hidden = true; move(1);
    } else if (k === "y" || k === "n") {
      pick("purchase", k === "y" ? "yes" : "no"); active = dims.findIndex((d) => d.dataset.dim === "purchase"); show();
    } else if (k in jump) {
      active = dims.findIndex((d) => d.dataset.dim === jump[k]); show();
    } else if (k in flagKeys) {
      const box = form.querySelector(`input[name=flags][value=${flagKeys[k]}]`); box.checked = !box.checked;
    } else if (k === "arrowdown" || k === "j") { move(1); }
    else if (k === "arrowup" || k === "k") { move(-1); }
    else if (k === "c") { comment.focus(); }
    else if (k === "s") { skipForm.hidden = false; reason.focus(); }
    else if (k === "?") {
      help.hidden = !help.hidden;
      if (!help.hidden) help.scrollIntoView({behavior: "smooth", block: "nearest"});
    }
    else if (k === "enter") { submit(); }
    else { return; }
    e.preventDefault();
  });
  document.addEventListener("click", renew);
  document.getElementById("skip-open").addEventListener("click", () => { skipForm.hidden = false; reason.focus(); });
  show();
})();
