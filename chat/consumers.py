"""The live bot's WebSocket at /ws/chat/ (Channels).

Client → server frames:
  {"type": "message", "text": "...", "client_msg_id": "..."}
  {"type": "feedback", "message_id": "...", "value": "up"|"down", "comment": "..."}
Server → client frames:
  {"type": "session", "session_id", "resumed", "token_budget", "tokens_used", "generator"}   (on connect)
  {"type": "token", "message_id", "text"}   (many), then
  {"type": "replace", "message_id", "text", "verdict", "reason"}   when a guardrail replaced the streamed answer
  {"type": "done", "message_id", "trace_id", "intent", "citations", "release", "guardrail", ...}
  {"type": "feedback_ack", "message_id", "value"}
  {"type": "error", "code", "detail"}   for anything wrong; the connection stays usable.

Connect with ``?session=<uuid>`` to resume a session (its history and token usage come back).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from chat.embeddings import batcher
from chat.generation import GenerationError, Usage
from chat.pipeline import (
    NotServing,
    SessionState,
    classify_turn,
    complete_turn,
    finish_turn,
    guard_turn,
    serving_context,
    stream_guard,
)
from guardrails.pii import redact_text

log = logging.getLogger(__name__)
_END = object()


def session_attributes(user, region: str = "") -> dict:
    """What experiment targeting sees of a session: user type (Prime members are in the "prime"
    group), region (the storefront passes ?region=), and the user id."""
    signed_in = getattr(user, "is_authenticated", False)
    prime = signed_in and user.groups.filter(name="prime").exists()
    return {
        "user_type": "prime" if prime else "signed_in" if signed_in else "guest",
        "region": region.upper()[:8],
        "user_id": user.pk if signed_in else None,
    }


def _open_session(resume: str | None, user, region: str = "") -> tuple[SessionState, bool]:
    from chat.models import ChatMessage, ChatSession

    now = timezone.now()
    user_id = user.pk if getattr(user, "is_authenticated", False) else None
    session = None
    if resume:
        try:
            session = ChatSession.objects.filter(session_id=uuid.UUID(resume)).first()
        except ValueError:
            session = None
    resumed = session is not None
    if session is None:
        session = ChatSession.objects.create(
            session_id=uuid.uuid4(),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            token_budget=settings.CHAT_SESSION_TOKEN_BUDGET,
        )
    recent = list(ChatMessage.objects.filter(session=session).order_by("-created_at", "-id")[:6])[::-1]
    history = [{"role": m.role, "content": m.text} for m in recent]
    state = SessionState(session.session_id, user_id, session.token_budget, session.tokens_used, history)
    state.attributes = session_attributes(user, region)
    return state, resumed


def _save_feedback(state: SessionState, message_id: uuid.UUID, value: str, comment: str, known: dict) -> bool:
    from chat.models import Feedback, Trace

    info = known.get(message_id)
    if info is None:
        trace = Trace.objects.filter(message_id=message_id, session_id=state.session_id).first()
        if trace is None:
            return False
        info = {"trace_id": trace.trace_id, "intent": trace.intent, "release": trace.release}
    before = Feedback.objects.filter(message_id=message_id).values_list("value", flat=True).first()
    Feedback.objects.update_or_create(
        message_id=message_id,
        defaults={
            "session_id": state.session_id,
            "trace_id": info["trace_id"],
            "intent": info["intent"],
            "release": info["release"],
            "value": value,
            "comment": redact_text(comment[:2000]),  # PII never stored in clear (US-10.3)
            "created_at": timezone.now(),
        },
    )
    if before != value:  # per-session totals for experiments: a changed thumb moves, it does not add
        from experiments import rollup

        delta = {f"thumbs_{value}": 1, **({f"thumbs_{before}": -1} if before else {})}
        rollup.add({state.session_id: delta})
    return True


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        query = parse_qs(self.scope.get("query_string", b"").decode())
        resume = (query.get("session") or [None])[0]
        region = (query.get("region") or [""])[0]
        self.state, resumed = await sync_to_async(_open_session)(resume, self.scope.get("user"), region)
        self.turns: dict[uuid.UUID, dict] = {}
        self.busy = False
        await self.accept()
        try:
            generator = (await sync_to_async(serving_context)()).generator_config.get("provider", "local")
        except NotServing:
            generator = None
        await self._send(
            {
                "type": "session",
                "session_id": str(self.state.session_id),
                "resumed": resumed,
                "token_budget": self.state.budget,
                "tokens_used": self.state.tokens_used,
                "generator": generator,
            }
        )

    async def _send(self, frame: dict) -> None:
        await self.send(text_data=json.dumps(frame))

    async def _error(self, code: str, detail: str) -> None:
        await self._send({"type": "error", "code": code, "detail": detail})

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None:
            return await self._error("binary_not_supported", "Send JSON text frames.")
        try:
            frame = json.loads(text_data)
        except (json.JSONDecodeError, ValueError):
            return await self._error("malformed_json", "The frame is not valid JSON.")
        if not isinstance(frame, dict):
            return await self._error("invalid_frame", "A frame is a JSON object with a 'type'.")
        kind = frame.get("type")
        try:
            if kind == "message":
                return await self._on_message(frame)
            if kind == "feedback":
                return await self._on_feedback(frame)
            if kind == "ping":
                return await self._send({"type": "pong"})
        except Exception:  # nothing crashes the consumer: log it, tell the client, stay open
            log.exception("chat consumer failed on a %s frame", kind)
            self.busy = False
            return await self._error("internal_error", "Something went wrong on our side; please try again.")
        return await self._error("unknown_type", f"Unknown frame type {kind!r}: use 'message' or 'feedback'.")

    async def _on_message(self, frame: dict) -> None:
        text = frame.get("text")
        client_msg_id = str(frame.get("client_msg_id") or "")[:100]
        if not isinstance(text, str) or not text.strip():
            return await self._error("empty_message", "The message text is empty.")
        limit = settings.CHAT_MAX_MESSAGE_CHARS
        if len(text) > limit:
            return await self._error(
                "message_too_long", f"Messages are limited to {limit} characters ({len(text)} sent)."
            )
        if self.busy:
            return await self._error("busy", "Wait for the current answer to finish before sending another message.")
        self.busy = True
        try:
            await self._turn(text.strip(), client_msg_id)
        finally:
            self.busy = False

    async def _turn(self, text: str, client_msg_id: str) -> None:
        try:
            turn = await sync_to_async(classify_turn)(self.state, text, client_msg_id=client_msg_id)
            vector, window = None, None
            if turn.needs_retrieval:
                # Batched with whatever other sessions are asking right now (chat.embeddings.batcher).
                started = time.perf_counter()
                vector = await batcher.embed(text)
                window = (started, time.perf_counter())
            turn = await sync_to_async(complete_turn)(turn, query_vector=vector, embed_window=window)
        except NotServing as exc:
            return await self._error("not_serving", str(exc))
        except GenerationError as exc:
            return await self._error(exc.code, exc.detail)
        message_id = str(turn.message_id)
        local = (
            (turn.generator_config or {}).get("provider", "local") in ("local", "scripted")
            or turn.blocked
            or turn.safe_mode
        )
        pieces, usage, error = [], None, ""
        gen_start, first_at = time.perf_counter(), None
        stream = turn.stream
        guard = stream_guard(turn)
        try:
            while True:
                # The local responder is pure computation: iterate it here. Remote providers block
                # on the network: each step runs in a worker thread.
                item = next(stream, _END) if local else await sync_to_async(next, thread_sensitive=False)(stream, _END)
                if item is _END:
                    break
                if isinstance(item, Usage):
                    usage = item
                    continue
                pieces.append(item)
                # The streaming guardrail holds back a short window and stops at a violation (US-7.4).
                out = guard.feed(item) if guard is not None else item
                if out:
                    if first_at is None:
                        first_at = time.perf_counter()
                    await self._send({"type": "token", "message_id": message_id, "text": out})
                if guard is not None and guard.violation is not None:
                    stream.close()  # stop generation
                    log.warning("streaming guardrail cut an answer (trace %s)", turn.trace_id)
                    break
            if guard is not None:
                tail = guard.finish()
                if tail:
                    first_at = first_at or time.perf_counter()
                    await self._send({"type": "token", "message_id": message_id, "text": tail})
        except GenerationError as exc:
            error = f"{exc.code}: {exc.detail}"
            await self._error(exc.code, "The answer could not be generated right now; please try again.")
        gen_end = time.perf_counter()
        outcome = await sync_to_async(guard_turn, thread_sensitive=False)(
            turn, "".join(pieces), guard, regenerate=not error
        )
        if outcome.replaced and not error:
            await self._send(
                {
                    "type": "replace",
                    "message_id": message_id,
                    "text": outcome.answer,
                    "verdict": outcome.verdict,
                    "reason": outcome.reason,
                }
            )
        payload = await sync_to_async(finish_turn, thread_sensitive=False)(
            self.state,
            turn,
            answer=outcome.answer,
            usage=usage,
            gen_start=gen_start,
            first_token_at=first_at,
            gen_end=gen_end,
            error=error,
            outcome=outcome,
        )
        self.turns[turn.message_id] = {"trace_id": turn.trace_id, "intent": turn.intent, "release": turn.ctx.release}
        if not error:
            await self._send({"type": "done", **payload})

    async def _on_feedback(self, frame: dict) -> None:
        value = frame.get("value")
        if value not in ("up", "down"):
            return await self._error("invalid_feedback", "Feedback 'value' is 'up' or 'down'.")
        comment = frame.get("comment") or ""
        if not isinstance(comment, str) or len(comment) > 2000:
            return await self._error("invalid_feedback", "A comment is text of at most 2,000 characters.")
        try:
            message_id = uuid.UUID(str(frame.get("message_id")))
        except ValueError:
            return await self._error("invalid_feedback", "Feedback needs the 'message_id' of an answer.")
        saved = await sync_to_async(_save_feedback)(self.state, message_id, value, comment, self.turns)
        if not saved:
            return await self._error("unknown_message", "No answer with that message_id in this session.")
        await self._send({"type": "feedback_ack", "message_id": str(message_id), "value": value})
