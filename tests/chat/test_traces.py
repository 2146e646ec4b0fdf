"""Trace writing off the hot path, and the trace console."""

import time
import uuid

from django.utils import timezone

from chat.models import ChatSession, Feedback, Span, Trace
from chat.traces import PendingTurn, TraceWriter
from mangaconsole.roles import Role


def _turn(session_id, **trace) -> PendingTurn:
    now = timezone.now()
    tid = uuid.uuid4()
    return PendingTurn(
        trace={
            "trace_id": tid,
            "session_id": session_id,
            "user_text": "hi",
            "answer": "hello",
            "intent": "chitchat",
            "started_at": now,
            "latency_ms": 3.2,
            **trace,
        },
        spans=[{"ordinal": 0, "name": "intent", "parent": "turn", "start_ms": 0.1, "duration_ms": 1.5}],
        messages=[{"message_id": uuid.uuid4(), "role": "user", "text": "hi", "trace_id": tid, "created_at": now}],
        session_id=session_id,
        tokens_used=12,
    )


def test_the_writer_thread_bulk_inserts_without_the_caller_waiting(transactional_db):
    now = timezone.now()
    session = ChatSession.objects.create(session_id=uuid.uuid4(), created_at=now, last_seen_at=now, token_budget=100)
    writer = TraceWriter(interval=0.05)
    t0 = time.perf_counter()
    for _ in range(50):
        writer.submit(_turn(session.session_id))
    submit_ms = (time.perf_counter() - t0) * 1000
    deadline = time.monotonic() + 10
    while Trace.objects.count() < 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Trace.objects.count() == 50
    assert Span.objects.count() == 50
    assert submit_ms < 500  # queued, not written, by the caller
    writer.stop()
    assert not writer._thread.is_alive()
    session.refresh_from_db()
    assert session.tokens_used == 12
    assert session.messages.count() == 50


def _stored_trace():
    now = timezone.now()
    trace = Trace.objects.create(
        trace_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        user_text="any deals on Berserk?",
        answer="Yes [1]",
        intent="promotion",
        release=1,
        started_at=now,
        latency_ms=12.5,
        ttft_ms=9.1,
        versions={"generator": "generator:v1"},
    )
    Span.objects.create(trace=trace, ordinal=0, name="intent", start_ms=0.1, duration_ms=2.0)
    Span.objects.create(trace=trace, ordinal=1, name="generate", start_ms=5.0, duration_ms=7.0, output_tokens=9)
    Feedback.objects.create(
        session_id=trace.session_id,
        message_id=uuid.uuid4(),
        trace_id=trace.trace_id,
        value="down",
        comment="wrong volume",
        created_at=now,
    )
    return trace


def test_traces_are_found_by_id_session_and_intent(client, personas):
    trace = _stored_trace()
    client.force_login(personas[Role.ONCALL_ENGINEER])
    for query in ({"trace_id": trace.trace_id}, {"session_id": trace.session_id}, {"intent": "promotion"}, {}):
        html = client.get("/traces/", query).content.decode()
        assert f"/traces/{trace.trace_id}/" in html, query
    assert f"/traces/{trace.trace_id}/" not in client.get("/traces/", {"intent": "faq"}).content.decode()
    assert (
        "must be after its start"
        in client.get("/traces/", {"start": "2026-11-02T00:00", "end": "2026-11-01T00:00"}).content.decode()
    )


def test_the_trace_page_shows_spans_timings_and_feedback(client, personas):
    trace = _stored_trace()
    client.force_login(personas[Role.ML_ENGINEER])
    html = client.get(f"/traces/{trace.trace_id}/").content.decode()
    assert str(trace.trace_id) in html
    assert "generator:v1" in html
    assert "<strong>intent</strong>" in html
    assert "<strong>generate</strong>" in html
    assert "wrong volume" in html
    assert "Span timings" in html
    assert client.get(f"/traces/{uuid.uuid4()}/").status_code == 404


def test_one_bad_trace_in_a_batch_loses_only_itself(transactional_db):
    now = timezone.now()
    session = ChatSession.objects.create(session_id=uuid.uuid4(), created_at=now, last_seen_at=now, token_budget=100)
    good, bad, also_good = _turn(session.session_id), _turn(session.session_id), _turn(session.session_id)
    bad.trace["user_text"] = None  # NOT NULL: the batch insert fails
    writer = TraceWriter()
    writer._write([good, bad, also_good])
    assert set(Trace.objects.values_list("trace_id", flat=True)) == {
        good.trace["trace_id"],
        also_good.trace["trace_id"],
    }
    assert (writer.written, writer.failed) == (2, 1)
