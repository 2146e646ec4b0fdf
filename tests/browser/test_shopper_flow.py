"""Issue 16's shopper in Chromium, over daphne: thirty questions in one conversation (past the token
budget) and the thirtieth, a catalog question, is still answered with a catalog citation and a note
that the conversation has grown long; a thumb then a comment sent with Enter reach the trace; a reload
redraws the earlier turns; a cut connection comes back and the next message is answered; "New
conversation" starts afresh."""

import time
from pathlib import Path

from django.conf import settings as django_settings
from playwright.sync_api import expect

from chat.models import ChatSession, Feedback, Trace
from tests.browser.test_chat_flow import asgi_server  # noqa: F401  (the daphne fixture)

QUESTIONS = [
    "do you ship to Canada?",
    "how much is Berserk Vol. 1?",
    "is chainsaw man vol 3 in stock",
    "what is your return window for damaged volumes?",
    "any deals on Berserk Deluxe?",
    "can I cancel a pre-order?",
    "recommend a dark fantasy manga",
    "do you offer gift wrap?",
    "how long does shipping take",
    "is One Piece Vol. 1 in stock?",
] * 3


def _wait_trace(trace_id: str) -> Trace:
    deadline = time.monotonic() + 10  # traces are bulk-written within a second
    while not Trace.objects.filter(trace_id=trace_id).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    return Trace.objects.get(trace_id=trace_id)


def test_a_shopper_keeps_getting_answers_rates_reloads_reconnects_and_starts_over(browser, asgi_server):  # noqa: F811
    context = browser.new_context(base_url=asgi_server)
    page = context.new_page()
    page.set_default_timeout(30_000)
    routes = []

    def proxy(route):  # every WebSocket goes through here, so the test can cut one
        route.connect_to_server()
        routes.append(route)

    page.route_web_socket("**/ws/chat/**", proxy)
    page.goto("/chat/")
    status = page.get_by_test_id("chat-status")
    expect(status).to_contain_text("Connected")
    assert page.locator("header .brand").get_attribute("href") == "/chat/"  # not the staff sign-in

    answers = page.get_by_test_id("answer")
    for n, question in enumerate(QUESTIONS[:30], start=1):
        page.get_by_test_id("chat-input").fill(question)
        page.get_by_test_id("chat-send").click()
        expect(answers).to_have_count(n, timeout=60_000)
        expect(page.get_by_test_id("chat-send")).to_be_enabled()
    last = answers.nth(29)
    assert "(catalog)" in last.locator(".citations").inner_text()  # "is One Piece Vol. 1 in stock?"
    assert "One Piece" in last.inner_text()
    assert "couldn't find it" not in last.inner_text()
    expect(page.get_by_test_id("long-note")).to_be_visible()  # the budget is spent: told, not blamed on the catalog
    session_id = status.get_attribute("data-session")
    assert ChatSession.objects.get(session_id=session_id).tokens_used >= 5000
    page.screenshot(path=str(Path(django_settings.VAR_DIR) / "shopper-30-turns.png"), full_page=True)

    # a thumb, then a comment sent with Enter, both reach the trace; the thumb can change
    second = answers.nth(1)
    second.locator("button.thumb.down").click()
    expect(second.locator(".ack")).to_have_text("Thanks for the feedback.")
    second.locator(".comment").fill("please lead with the price")
    second.locator(".comment").press("Enter")
    expect(second.locator(".ack")).to_have_text("Thanks: your comment was sent.")
    second.locator("button.thumb.up").click()
    trace = _wait_trace(second.get_attribute("data-trace-id"))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not Feedback.objects.filter(trace_id=trace.trace_id, value="up").exists():
        time.sleep(0.2)
    feedback = Feedback.objects.get(trace_id=trace.trace_id)
    assert (feedback.value, feedback.comment) == ("up", "please lead with the price")

    # a reload redraws the conversation, thumbs included
    page.reload()
    expect(status).to_contain_text("conversation resumed")
    expect(answers).to_have_count(20)  # the last 40 messages
    assert page.locator(".msg.user").first.inner_text() == QUESTIONS[10]

    # the connection is cut: it comes back and the next message is answered
    routes[-1].close()
    expect(status).to_contain_text("reconnecting", ignore_case=True)
    expect(status).to_contain_text("Connected", timeout=20_000)
    page.get_by_test_id("chat-input").fill("do you ship to Canada?")
    page.get_by_test_id("chat-send").click()
    expect(answers).to_have_count(21, timeout=60_000)
    assert status.get_attribute("data-session") == session_id

    # New conversation: a new session, an empty log, a fresh budget
    page.get_by_test_id("new-conversation").click()
    expect(answers).to_have_count(0)
    expect(status).not_to_contain_text(session_id[:8])
    page.get_by_test_id("chat-input").fill("how much is Berserk Vol. 1?")
    page.get_by_test_id("chat-send").click()
    expect(answers).to_have_count(1, timeout=60_000)
    expect(page.get_by_test_id("long-note")).to_be_hidden()
    new_session = status.get_attribute("data-session")
    assert new_session != session_id
    assert ChatSession.objects.get(session_id=new_session).tokens_used < 1000
    context.close()
