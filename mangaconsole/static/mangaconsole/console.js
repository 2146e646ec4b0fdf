// Small behaviours shared by console pages, wired by data attributes so that no page needs an
// inline script or an on* attribute (Content-Security-Policy script-src 'self').
//   [data-action=print]           prints the page
//   form[data-confirm=message]    asks before it submits (promotions)
//   select[data-autosubmit]       submits its form when the choice changes
//   [data-reload-every=ms]        reloads the page every ms milliseconds while nobody types in it
//   [data-poll-url][data-poll-ms] fetches JSON every ms and fills [data-poll-field=name] inside it (in
//                                 the whole page with data-poll-page); reloads the page once a field
//                                 named in data-poll-reload-on is true
(function () {
  function ready(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
    else fn();
  }
  function typing() {
    const el = document.activeElement;
    return el && ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName);
  }
  ready(function () {
    document.querySelectorAll("[data-action=print]").forEach(function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (event) { if (!window.confirm(f.dataset.confirm)) event.preventDefault(); });
    });
    document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
      s.addEventListener("change", function () { s.form.submit(); });
    });
    document.querySelectorAll("[data-reload-every]").forEach(function (el) {
      setInterval(function () { if (!typing()) location.reload(); }, Number(el.dataset.reloadEvery));
    });
    document.querySelectorAll("[data-poll-url]").forEach(function (box) {
      const every = Number(box.dataset.pollMs || 1000);
      const reloadOn = box.dataset.pollReloadOn || "";
      async function tick() {
        try {
          const r = await fetch(box.dataset.pollUrl, {credentials: "same-origin"});
          if (r.ok) {
            const p = await r.json();
            const scope = "pollPage" in box.dataset ? document : box;  // data-poll-page: fields anywhere
            scope.querySelectorAll("[data-poll-field]").forEach(function (el) {
              const value = p[el.dataset.pollField];
              if (value === undefined) return;
              if (el.tagName === "PROGRESS") el.value = value;
              else el.textContent = value === null || value === "" ? (el.dataset.pollEmpty || "") : value;
            });
            if (reloadOn && p[reloadOn]) { location.reload(); return; }
          }
        } catch (e) { /* the next tick tries again */ }
        setTimeout(tick, every);
      }
      setTimeout(tick, every);
    });
  });
})();
