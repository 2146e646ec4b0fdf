"""The prompt lifecycle in Chromium (issue 5's acceptance): a prompt engineer edits the FAQ template and
submits it; they cannot approve it themselves; an ML engineer approves; the evaluation runs on a real
Celery worker with live progress; the gate passes; release to staging, promote to production; the
bot's next FAQ answer is traced to the new version; one click rolls it back. Then a template that
drops the citation rule fails its gate and its release button stays disabled.
"""

import time
from pathlib import Path

from celery.contrib.testing.worker import start_worker
from playwright.sync_api import expect

from chat.models import Trace
from evaluation.models import EvalRun
from mangaconsole.celery import app
from mangaconsole.roles import Role
from prompts_app.models import PromptVersion
from registry.selectors import release_for_alias
from tests.browser.test_chat_flow import _ask, asgi_server  # noqa: F401  (the daphne fixture)
from tests.factories import PASSWORD, make_user


def _login(browser, base_url, username):
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto("/prompts/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.get_by_test_id("production-release").wait_for()
    return context, page


def _new_faq_version(page, edit, changelog):
    page.goto("/prompts/faq/")
    body = page.locator("#id_body")
    body.fill(edit(body.input_value()))
    page.fill("#id_changelog", changelog)
    page.fill("#id_change_description", changelog)
    page.get_by_test_id("new-version").locator("button[type=submit]").click()
    page.get_by_test_id("submit-review").click()
    # expect() retries until the reloaded page shows it; inner_text() could read the page before the POST
    expect(page.get_by_test_id("version-status")).to_have_text("In review")
    return page.url


def _approve_and_watch(page, url):
    page.goto(url)
    page.locator("textarea[name=comment]").fill("reads well")
    page.get_by_test_id("approve").click()
    page.get_by_test_id("eval-run-link").click()
    # The run page opens while the worker is still at it: a progress bar that the page polls, then
    # a reload with the verdict when the run finishes.
    page.get_by_test_id("run-status").wait_for()
    seen_progress = page.get_by_test_id("progress-bar").count() == 1
    page.wait_for_function(
        "() => ['Gate passed', 'Gate failed', 'Error']"
        ".includes(document.querySelector('[data-testid=run-status]')?.textContent)",
        timeout=120_000,
    )
    return seen_progress, page.get_by_test_id("run-status").inner_text()


def _chat_prompt_version(browser, base_url, n):
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto("/chat/")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=chat-status]').textContent.startsWith('Connected')"
    )
    answer = _ask(page, "do you ship to Canada?", 1)
    trace_id = answer.get_attribute("data-trace-id")
    deadline = time.monotonic() + 10
    while not Trace.objects.filter(trace_id=trace_id).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    context.close()
    return Trace.objects.get(trace_id=trace_id).versions["prompt"]


def test_a_prompt_change_goes_from_edit_to_production_and_back(browser, asgi_server, golden_small, settings):  # noqa: F811
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    make_user("prompt-b", Role.PROMPT_ENGINEER)
    make_user("mleng-b", Role.ML_ENGINEER)
    make_user("mleng-c", Role.ML_ENGINEER)
    first_production = release_for_alias("production")
    with start_worker(app, perform_ping_check=False, pool="solo", concurrency=1, shutdown_timeout=30):
        author_ctx, author = _login(browser, asgi_server, "prompt-b")
        url = _new_faq_version(
            author,
            lambda body: body.replace("in a few sentences", "in two or three sentences, quoting any time limit"),
            "faq: quote time limits",
        )
        # the author holds the review permission, but not for their own version: no buttons that would
        # refuse them, and the page says what they can do instead
        assert author.get_by_test_id("author-cannot-review").is_visible()
        assert author.get_by_test_id("approve").count() == 0
        assert "write a new version" in author.get_by_test_id("author-cannot-review").inner_text()
        assert author.get_by_test_id("version-status").inner_text() == "In review"

        reviewer_ctx, reviewer = _login(browser, asgi_server, "mleng-b")
        seen_progress, verdict = _approve_and_watch(reviewer, url)
        assert seen_progress
        assert verdict == "Gate passed"
        assert "| pass" not in reviewer.get_by_test_id("gates").inner_text()  # a table, not markdown
        reviewer.screenshot(path=str(Path(settings.VAR_DIR) / "eval-run-page.png"), full_page=True)
        run = EvalRun.objects.latest("pk")
        assert run.intent == "faq"
        assert run.done == run.total

        reviewer.goto(url)
        reviewer.get_by_test_id("release-staging").click()
        expect(reviewer.get_by_test_id("version-status")).to_have_text("Released")
        reviewer.goto("/prompts/")
        reviewer.once("dialog", lambda dialog: dialog.accept())  # "Promote …?" asks first
        reviewer.get_by_test_id("promote").click()
        # the promotion is a deployment: gate, staging, smoke on the worker, then someone else approves
        reviewer.get_by_text("entered the deployment pipeline").wait_for()
        reviewer.get_by_test_id("approval").wait_for(state="visible", timeout=120_000)
        assert reviewer.get_by_test_id("approve").count() == 0  # four eyes: not the one who asked
        assert release_for_alias("production") == first_production
        approver_ctx, approver = _login(browser, asgi_server, "mleng-c")
        approver.goto(reviewer.url)
        approver.get_by_test_id("approve").click()
        approver.wait_for_function(
            "() => document.querySelector('[data-testid=deployment-state]').textContent === 'Promoted'", timeout=60_000
        )
        approver_ctx.close()
        production = release_for_alias("production")
        assert production != first_production
        # the reviewer's deployment page reloads itself when the deployment finishes: a navigation of that
        # page could collide with its reload, and closing it mid-reload once hung for 300 s on PostgreSQL
        # in CI, so the reviewer leaves that tab as it is and goes on in a new one
        reviewer = reviewer_ctx.new_page()
        reviewer.set_default_timeout(30_000)
        reviewer.goto("/prompts/")
        assert f"release {production.number}" in reviewer.get_by_test_id("production-release").inner_text()
        time.sleep(1.5)  # the alias cache of daphne's process lives 1 s
        assert _chat_prompt_version(browser, asgi_server, 1).startswith("faq@1.1.0")

        reviewer.get_by_test_id("rollback-reason").fill("demo: back to 1.0.0")
        reviewer.get_by_test_id("rollback-button").click()  # the registry's rollback form, on the prompts page
        reviewer.get_by_text(f"Production now serves release {first_production.number}").wait_for()
        assert reviewer.url.endswith("/prompts/")
        assert release_for_alias("production") == first_production
        time.sleep(1.5)
        assert _chat_prompt_version(browser, asgi_server, 1).startswith("faq@1.0.0")

        # A template that drops the citation rule fails its gate and cannot be released.
        bad_url = _new_faq_version(
            author, lambda body: body.replace(" Cite each source you use as [n].", ""), "faq: shorter instructions"
        )
        _, verdict = _approve_and_watch(reviewer, bad_url)
        assert verdict == "Gate failed"
        gates = reviewer.get_by_test_id("gates").inner_text()
        assert "Format compliance" in gates
        assert "FAIL" in gates
        assert "no [n] citation" in reviewer.get_by_test_id("failing").inner_text()
        reviewer.goto(bad_url)
        assert reviewer.get_by_test_id("release-staging").is_disabled()
        assert PromptVersion.objects.get(changelog="faq: shorter instructions").status == "approved"
        author_ctx.close()
        reviewer_ctx.close()
