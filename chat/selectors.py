from __future__ import annotations

import uuid

from django.db.models import QuerySet

from chat.models import Feedback, Trace


def trace_search(*, trace_id=None, session_id=None, user_id=None, intent="", start=None, end=None) -> QuerySet:
    qs = Trace.objects.order_by("-started_at")
    if trace_id:
        return qs.filter(trace_id=trace_id)
    if session_id:
        qs = qs.filter(session_id=session_id)
    if user_id:
        qs = qs.filter(user_id=user_id)
    if intent:
        qs = qs.filter(intent=intent)
    if start:
        qs = qs.filter(started_at__gte=start)
    if end:
        qs = qs.filter(started_at__lt=end)
    return qs


def trace_get(*, trace_id: uuid.UUID) -> Trace | None:
    trace = Trace.objects.filter(trace_id=trace_id).prefetch_related("spans").first()
    if trace is not None:
        trace.feedback = Feedback.objects.filter(trace_id=trace_id).order_by("created_at")
    return trace
