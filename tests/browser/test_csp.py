"""The Content-Security-Policy holds in Chromium: every console page an administrator can reach by its
links (and the chart pages, the printable report and the admin) renders with no blocked script, no
script error and its charts drawn. ``script-src 'self'`` means one inline script anywhere shows here
as a violation."""

import uuid
from datetime import timedelta
from urllib.parse import urljoin, urlparse

import pytest
from django.utils import timezone

from chat.turn import SessionState, run_turn
from evaluation.services import eval_run_create, eval_run_execute
from mangaconsole.roles import Role
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.db_agnostic

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`));
"""
SKIP = ("/accounts/logout", "/admin/logout", "download.", ".jsonl", "/report", "/api/")


def _same_site_links(page, base: str) -> set[str]:
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    found = set()
    for href in hrefs:
        url = urlparse(urljoin(page.url, href))
        if url.netloc != urlparse(base).netloc or any(s in url.path for s in SKIP):
            continue
        found.add(url.path + (f"?{url.query}" if url.query else ""))
    return found


def test_every_reachable_page_renders_under_the_policy_with_its_charts(
    browser, live_server, serving, golden_small, settings
):
    settings.CHAT_TRACE_WRITES_INLINE = True
    make_user("root-csp", Role.ADMIN, is_superuser=True)
    run = eval_run_create(release=serving["release"], actor="t", queue=False)
    eval_run_execute(run.pk)
    turn = run_turn(SessionState(uuid.uuid4(), None, 10_000), "how much is Berserk Vol. 1?")
    now = timezone.now()
    must_visit = [
        f"/evaluation/runs/{run.pk}/",
        f"/traces/{turn.turn.trace_id}/",
        "/guardrails/",
        "/evaluation/",
        "/releases/canary/",
        "/chat/",
        "/admin/",
        "/admin/registry/release/",
        f"/admin/registry/release/{serving['release'].pk}/change/",
        "/audit/export/download.html?start="
        + (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
        + "&end="
        + (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
    ]

    context = browser.new_context(base_url=live_server.url)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    page.goto("/accounts/login/")
    page.fill("#id_username", "root-csp")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")

    queue, seen, problems, charts = ["/", *must_visit], set(), [], 0
    while queue and len(seen) < 50:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = page.goto(path)
        page.wait_for_load_state("networkidle")
        if response.status >= 400 and not (path == "/healthz" and response.status == 503):  # no worker here
            problems.append(f"{path}: HTTP {response.status}")
            continue
        violations = page.evaluate("window.__csp")
        problems += [f"{path}: {v}" for v in violations]
        if path.startswith("/chat/"):
            continue  # the WebSocket needs daphne: tests/browser/test_chat_flow.py runs the chat under the policy
        for chart in page.locator(".plotly-chart").all():
            charts += 1
            if chart.locator(".main-svg").count() == 0:
                problems.append(f"{path}: a chart was not drawn")
        if not path.startswith("/admin/"):
            queue += sorted(_same_site_links(page, live_server.url) - seen)
    context.close()
    assert not problems, problems
    assert not errors, errors
    assert charts >= 4, f"only {charts} charts seen on {len(seen)} pages"
    assert len(seen) >= 25
    print(f"{len(seen)} pages, {charts} charts, no CSP violation")
