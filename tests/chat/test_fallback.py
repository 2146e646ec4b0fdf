"""Model fallback (S32): a generator that fails before its first token hands the turn to the next
model of the release's fallback list, and the trace's generate span says so."""

import uuid

import pytest

from chat.generation import GenerationError, Prompt, Usage, stream_with_fallback
from chat.models import Span
from chat.turn import SessionState, run_turn

PRIMARY = {"provider": "scripted", "model_id": "primary-model", "fail": "provider_throttled"}
BACKUP = {"provider": "scripted", "model_id": "backup-model", "default": "Answer from the backup model."}


def _prompt():
    return Prompt(system="s", context=[], history=[], user="hi", intent="chitchat")


def test_the_next_model_serves_when_the_first_fails_and_the_chain_is_reported():
    items = list(stream_with_fallback(_prompt(), [], config={**PRIMARY, "fallbacks": [BACKUP]}))
    text = "".join(i for i in items if isinstance(i, str))
    usage = next(i for i in items if isinstance(i, Usage))
    assert text == "Answer from the backup model."
    assert usage.extra["served_by"] == "backup-model"
    assert usage.extra["fallback"][0]["model"] == "primary-model"
    assert usage.extra["fallback"][0]["error"] == "provider_throttled"


def test_when_every_model_fails_the_last_error_is_raised():
    with pytest.raises(GenerationError) as exc:
        list(
            stream_with_fallback(
                _prompt(), [], config={**PRIMARY, "fallbacks": [{**BACKUP, "fail": "provider_unavailable"}]}
            )
        )
    assert exc.value.code == "provider_unavailable"


def test_a_turn_served_by_the_fallback_records_it_on_the_trace(serving, settings):
    settings.CHAT_TRACE_WRITES_INLINE = True
    state = SessionState(uuid.uuid4(), None, 10_000)
    result = run_turn(state, "hello there", generator_config={**PRIMARY, "fallbacks": [BACKUP]})
    assert result.answer == "Answer from the backup model."
    assert result.payload["fallback"][0]["model"] == "primary-model"
    span = Span.objects.get(trace_id=result.turn.trace_id, name="generate")
    assert span.outputs["served_by"] == "backup-model"
    assert span.outputs["fallback"][0]["error"] == "provider_throttled"
