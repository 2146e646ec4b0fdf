"""The live bot in Chromium against a real ASGI server (daphne), then the trace in the console.

pytest-django's live server speaks WSGI only, so this starts daphne in a subprocess on the test
database (committed data: transactional tests).
"""

import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from chat.models import Feedback, Span, Trace
from mangaconsole.lib.asgi_server import daphne_start
from mangaconsole.roles import Role
from tests.browser.conftest import CHROMIUM_ARGS  # noqa: F401  (same launch flags)
from tests.factories import PASSWORD, make_user


def _database_env() -> dict:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return {"SQLITE_PATH": str(s["NAME"])}
    return {"DATABASE_URL": f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"}


@pytest.fixture
def asgi_server(transactional_db, serving):
    env = {"CHAT_WARM_UP": "1", "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "DATABASE_URL": "", **_database_env()}
    proc, port = daphne_start(env=env, log=Path(settings.VAR_DIR) / "daphne-browser-test.log")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


def _ask(page, text: str, n: int):
    page.get_by_test_id("chat-input").fill(text)
    page.get_by_test_id("chat-send").click()
    answer = page.get_by_test_id("answer").nth(n - 1)
    answer.wait_for(timeout=60_000)
    return answer


def test_a_shopper_chats_rates_and_an_engineer_finds_the_trace(browser, asgi_server, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]  # what daphne's process checks
    make_user("oncall-browser", Role.ONCALL_ENGINEER)
    context = browser.new_context(base_url=asgi_server)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto("/chat/")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=chat-status]').textContent.startsWith('Connected')"
    )
    assert "not an LLM" in page.get_by_test_id("generator-note").inner_text()

    deals = _ask(page, "any deals on Berserk Deluxe?", 1)
    assert "Berserk Deluxe" in deals.inner_text()
    assert "on sale" in deals.inner_text()
    assert deals.locator(".citations li").count() >= 1
    assert "(catalog)" in deals.locator(".citations").inner_text()

    returns = _ask(page, "what is your return window for damaged volumes?", 2)
    assert "30 days" in returns.inner_text()
    assert "(policy)" in returns.locator(".citations").inner_text()
    # The comment box opens once a thumb is chosen; Enter sends the comment with it.
    assert returns.locator(".comment").is_disabled()
    returns.locator("button.down").click()
    returns.locator(".ack").filter(has_text="Thanks").wait_for()
    returns.locator(".comment").fill("Please lead with the number of days")
    returns.locator(".comment").press("Enter")
    returns.locator(".ack").filter(has_text="your comment was sent").wait_for()
    trace_id = returns.get_attribute("data-trace-id")

    deadline = time.monotonic() + 10  # traces are bulk-written within a second
    while not Trace.objects.filter(trace_id=trace_id).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert Feedback.objects.get(trace_id=trace_id).comment == "Please lead with the number of days"
    stages = Span.objects.filter(trace_id=trace_id).exclude(name__startswith="guardrail:")
    assert stages.count() == 8  # budget, entities, intent, embed, retrieve, rerank, prompt_assembly, generate
    assert Span.objects.filter(trace_id=trace_id, name="guardrail:stream_filter").exists()

    page.goto(f"/traces/?trace_id={trace_id}")
    page.fill("#id_username", "oncall-browser")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.get_by_test_id("trace-link").click()
    assert page.get_by_test_id("trace-id").inner_text() == trace_id
    assert page.get_by_test_id("trace-intent").inner_text() == "return_request"
    spans = page.get_by_test_id("spans").inner_text()
    for name in ("budget", "intent", "embed", "retrieve", "rerank", "prompt_assembly", "generate"):
        assert name in spans
    assert page.get_by_test_id("feedback-value").inner_text() == "down"
    assert page.get_by_test_id("feedback-comment").inner_text() == "Please lead with the number of days"
    page.screenshot(path=str(Path(settings.VAR_DIR) / "trace-page.png"), full_page=True)
    context.close()
