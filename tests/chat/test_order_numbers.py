"""An order number the shopper gives is used within the turn (the bot does not ask for it again) and
stored only redacted: the trace keeps ``<ORDER_ID>`` and the answer its last four digits."""

import uuid

from chat.models import ChatMessage, Trace
from chat.turn import SessionState, run_turn

ORDER = "112-3456789-1234567"


def test_the_bot_uses_the_order_number_and_stores_it_redacted(serving, settings):
    settings.CHAT_TRACE_WRITES_INLINE = True
    result = run_turn(SessionState(uuid.uuid4(), None, 10_000), f"where is my order {ORDER}? it is late")
    assert result.turn.intent == "order_tracking"
    assert "112-…-4567" in result.answer
    assert "If you share your order number" not in result.answer
    trace = Trace.objects.get(trace_id=result.turn.trace_id)
    assert "<ORDER_ID>" in trace.user_text
    stored = [trace.user_text, trace.answer, *ChatMessage.objects.values_list("text", flat=True)]
    assert not [t for t in stored if ORDER in t or "3456789" in t]
    asked = run_turn(SessionState(uuid.uuid4(), None, 10_000), "where is my order? it is late")
    assert "If you share your order number" in asked.answer
