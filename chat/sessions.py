"""Chat sessions: opening one (new, or resumed by the browser that holds its signed token) and the
shopper's feedback on an answer.

A session id alone resumes nothing: anyone who saw an id in a log or a URL could read that
conversation into their own prompt. The browser that opened a session holds a resume token signed
with ``SECRET_KEY`` (``django.core.signing``) that names the session and the signed-in user, if any;
a resume needs both the id and a token that matches them and the user connecting now.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.utils import timezone

from chat.models import ChatMessage, ChatSession, Feedback, Trace
from chat.turn import SessionState
from experiments import rollup
from guardrails.pii import redact_text

RESUME_SALT = "chat.session.resume"
HISTORY_TURNS = 6  # messages of history the prompt sees on a resumed session
TRANSCRIPT_MESSAGES = 40  # messages a reloaded page draws


@dataclass
class OpenedSession:
    state: SessionState
    resumed: bool
    resume_token: str
    refused: str = ""  # why a requested resume started a new session instead ('' when none was asked)
    transcript: list[dict] | None = None  # a resumed session's earlier turns, for the page to draw


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


def resume_token_for(session_id, user_id: int | None) -> str:
    """The token a browser keeps to resume ``session_id`` later (as ``user_id``; None for a guest)."""
    return signing.dumps({"s": str(session_id), "u": user_id}, salt=RESUME_SALT, compress=True)


def resume_refusal(session: ChatSession | None, requested: str, token: str, user_id: int | None) -> str:
    """'' when ``token`` lets ``user_id`` resume ``session``; otherwise the reason it may not. The
    reason is told to the client in words that reveal nothing about the other session."""
    if session is None:
        return "no conversation with that id: a new one started"
    try:
        data = signing.loads(token or "", salt=RESUME_SALT)
    except signing.BadSignature:
        return "that conversation was not opened by this browser: a new one started"
    if not isinstance(data, dict) or data.get("s") != str(session.session_id) or data.get("s") != requested:
        return "that conversation was not opened by this browser: a new one started"
    if data.get("u") != user_id or session.user_id != user_id:
        return "that conversation belongs to another account: a new one started"
    idle = timedelta(minutes=settings.CHAT_SESSION_IDLE_MINUTES)
    if session.last_seen_at and timezone.now() - session.last_seen_at > idle:
        return (
            f"that conversation was idle for more than {settings.CHAT_SESSION_IDLE_MINUTES} minutes: a new one started"
        )
    return ""


def session_transcript(session: ChatSession, *, limit: int = TRANSCRIPT_MESSAGES) -> list[dict]:
    """The session's last ``limit`` messages, oldest first, as the page draws them: the shopper's
    text, and each answer with its message id, citations and the thumb given to it."""
    messages = list(ChatMessage.objects.filter(session=session).order_by("-created_at", "-id")[:limit])[::-1]
    traces = {
        t.trace_id: t.citations
        for t in Trace.objects.filter(trace_id__in=[m.trace_id for m in messages if m.trace_id]).only(
            "trace_id", "citations"
        )
    }
    thumbs = dict(
        Feedback.objects.filter(message_id__in=[m.message_id for m in messages]).values_list("message_id", "value")
    )
    return [
        {
            "role": m.role,
            "text": m.text,
            **(
                {
                    "message_id": str(m.message_id),
                    "citations": traces.get(m.trace_id, []),
                    "feedback": thumbs.get(m.message_id),
                }
                if m.role == ChatMessage.Role.ASSISTANT
                else {}
            ),
        }
        for m in messages
    ]


def session_open(*, resume: str | None, token: str | None, user, region: str = "") -> OpenedSession:
    """Resume the session ``resume`` when ``token`` proves this browser (and this user) opened it;
    otherwise start a new one and say why the resume was refused. Nothing of a refused session's
    history is loaded."""
    now = timezone.now()
    user_id = user.pk if getattr(user, "is_authenticated", False) else None
    session, refused = None, ""
    if resume:
        try:
            found = ChatSession.objects.filter(session_id=uuid.UUID(resume)).first()
        except ValueError:
            found = None
        refused = resume_refusal(found, resume, token or "", user_id)
        session = None if refused else found
    resumed = session is not None
    if session is None:
        session = ChatSession.objects.create(
            session_id=uuid.uuid4(),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            token_budget=settings.CHAT_SESSION_TOKEN_BUDGET,
        )
    recent = list(ChatMessage.objects.filter(session=session).order_by("-created_at", "-id")[:HISTORY_TURNS])[::-1]
    history = [{"role": m.role, "content": m.text} for m in recent]
    state = SessionState(session.session_id, user_id, session.token_budget, session.tokens_used, history)
    state.attributes = session_attributes(user, region)
    transcript = session_transcript(session) if resumed else []
    return OpenedSession(state, resumed, resume_token_for(session.session_id, user_id), refused, transcript)


def feedback_save(state: SessionState, message_id: uuid.UUID, value: str, comment: str, known: dict) -> bool:
    """Store (or change) the thumb and comment on one of this session's answers; False when the
    session has no answer with that id. The comment is PII-redacted before it is stored (US-10.3),
    and the session's totals for experiments move with a changed thumb instead of adding to it."""
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
            "comment": redact_text(comment[:2000]),
            "created_at": timezone.now(),
        },
    )
    if before != value:
        delta = {f"thumbs_{value}": 1, **({f"thumbs_{before}": -1} if before else {})}
        rollup.add({state.session_id: delta})
    return True
