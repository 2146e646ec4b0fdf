"""The live bot's WebSocket at /ws/chat/ (Channels).

Client → server frames:
  {"type": "message", "text": "...", "client_msg_id": "..."}
  {"type": "feedback", "message_id": "...", "value": "up"|"down", "comment": "..."}
Server → client frames:
  {"type": "session", "session_id", "resume_token", "resumed", ["resume_refused"], "history",
   "idle_minutes", "token_budget", "tokens_used", "generator"}   (on connect; "history" is a resumed
   session's earlier messages: [{"role", "text", and for answers "message_id", "citations", "feedback"}])
  {"type": "token", "message_id", "text"}   (many), then
  {"type": "replace", "message_id", "text", "verdict"}   when a guardrail replaced the streamed answer
  {"type": "done", "message_id", "trace_id", "intent", "citations", "degraded", "tokens_used",
   "token_budget", "latency_ms"}   (the release, guardrail checks and cost stay in the trace)
  {"type": "feedback_ack", "message_id", "value"}
  {"type": "error", "code", "detail"}   for anything wrong; the connection stays usable.

Connect with ``?session=<uuid>&token=<resume_token>`` to resume a session (its history and token
usage come back): the token is the one the ``session`` frame gave the browser that opened it, and it
is bound to the signed-in user, if any. A foreign or forged id starts a new session, and the
``session`` frame says so in ``resume_refused``.
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

from chat.embeddings import batcher
from chat.generation import GenerationError
from chat.serving import NotServing, serving_context
from chat.sessions import feedback_save, session_open
from chat.turn import AnswerStream, classify_turn, complete_turn

log = logging.getLogger(__name__)
_END = object()


# What the public ``done`` frame carries. The trace keeps everything else: which release (and so
# which experiment arm) served the turn, the guardrail checks that fired, the model chain and its
# cost stay with the operators; a stranger who learns them can thumb one arm down into a harm stop
# or probe the guardrails check by check.
PUBLIC_DONE_FIELDS = (
    "message_id",
    "trace_id",
    "intent",
    "citations",
    "degraded",
    "tokens_used",
    "token_budget",
    "latency_ms",
)


def _encodable(frame) -> bool:
    """JSON may spell a lone surrogate (``"\\ud800"``), which no UTF-8 text can hold: such a frame
    is refused at the door instead of failing deep in a database write."""
    try:
        json.dumps(frame, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        query = parse_qs(self.scope.get("query_string", b"").decode())
        resume = (query.get("session") or [None])[0]
        token = (query.get("token") or [None])[0]
        region = (query.get("region") or [""])[0]
        opened = await sync_to_async(session_open)(
            resume=resume, token=token, user=self.scope.get("user"), region=region
        )
        self.state = opened.state
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
                "resume_token": opened.resume_token,
                "resumed": opened.resumed,
                **({"resume_refused": opened.refused} if opened.refused else {}),
                "history": opened.transcript,
                "idle_minutes": settings.CHAT_SESSION_IDLE_MINUTES,
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
        if not _encodable(frame):
            return await self._error(
                "undecodable_text",
                "The frame holds text that is not valid Unicode (a lone surrogate); nothing was sent.",
            )
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
            # The message's vector first, batched with whatever other sessions are asking right now
            # (chat.embeddings.batcher): the scope guard and retrieval both read it.
            started = time.perf_counter()
            vector = await batcher.embed(text)
            window = (started, time.perf_counter())
            turn = await sync_to_async(classify_turn)(
                self.state, text, client_msg_id=client_msg_id, vector=vector, t0=started
            )
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
        # The one loop body of every turn (chat.turn.AnswerStream); this consumer only moves frames.
        answer = AnswerStream(turn)
        stream = turn.stream
        try:
            while not answer.cut:
                # The local responder is pure computation: iterate it here. Remote providers block
                # on the network: each step runs in a worker thread.
                item = next(stream, _END) if local else await sync_to_async(next, thread_sensitive=False)(stream, _END)
                if item is _END:
                    break
                out = answer.feed(item)  # the streaming guardrail holds back a short window (US-7.4)
                if out:
                    await self._send({"type": "token", "message_id": message_id, "text": out})
            tail = answer.end()
            if tail:
                await self._send({"type": "token", "message_id": message_id, "text": tail})
        except GenerationError as exc:
            answer.fail(exc)
            await self._error(exc.code, "The answer could not be generated right now; please try again.")
        outcome = await sync_to_async(answer.outcome, thread_sensitive=False)()
        if outcome.replaced and not answer.error:
            await self._send(
                {
                    "type": "replace",
                    "message_id": message_id,
                    "text": outcome.answer,
                    "verdict": outcome.verdict,
                }
            )
        payload = await sync_to_async(answer.record, thread_sensitive=False)(self.state, outcome)
        self.turns[turn.message_id] = {"trace_id": turn.trace_id, "intent": turn.intent, "release": turn.ctx.release}
        if not answer.error:
            await self._send({"type": "done", **{k: payload[k] for k in PUBLIC_DONE_FIELDS}})

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
        saved = await sync_to_async(feedback_save)(self.state, message_id, value, comment, self.turns)
        if not saved:
            return await self._error("unknown_message", "No answer with that message_id in this session.")
        await self._send(
            {"type": "feedback_ack", "message_id": str(message_id), "value": value, "comment": bool(comment.strip())}
        )
