"""Storefront events over HTTP (US-2.3): POST /api/events/ with the chat session id.

{"event_id": "...", "session_id": "<uuid>", "kind": "conversion" | "resolution" | "escalation" | "csat",
 "value"?: number, "at"?: ISO time}, or a JSON list of them (at most 500). Idempotent on event_id: a
repeat answers 200 with ``"created": false`` and stores nothing new. A batch is checked whole first;
one bad event rejects the batch with the index and reason of every bad one, so nothing is half stored.
"""

import uuid

from django.db import transaction
from django.utils.dateparse import parse_datetime
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from experiments.models import Event
from experiments.services import ExperimentError, event_record

MAX_BATCH = 500


def _check(item) -> tuple[dict | None, str]:
    if not isinstance(item, dict):
        return None, "an event is a JSON object"
    event_id = item.get("event_id")
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > 100:
        return None, "event_id is a non-empty string of at most 100 characters"
    try:
        session_id = uuid.UUID(str(item.get("session_id")))
    except ValueError:
        return None, "session_id is the chat session's UUID"
    kind = item.get("kind")
    if kind not in Event.Kind.values:
        return None, f"kind is one of {', '.join(Event.Kind.values)}"
    value = item.get("value", 1.0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, "value is a number"
    if kind == Event.Kind.CSAT and not 1 <= value <= 5:
        return None, "a CSAT value is between 1 and 5"
    at = None
    if item.get("at") is not None:
        at = parse_datetime(str(item["at"]))
        if at is None:
            return None, "at is an ISO 8601 date-time"
    return {"event_id": event_id.strip(), "session_id": session_id, "kind": kind, "value": value, "at": at}, ""


class EventCreate(APIView):
    required_permission = "experiments.add_event"

    def post(self, request):
        payload = request.data
        batch = payload if isinstance(payload, list) else [payload]
        if not batch or len(batch) > MAX_BATCH:
            return Response({"error": f"send 1 to {MAX_BATCH} events"}, status=status.HTTP_400_BAD_REQUEST)
        checked, errors = [], []
        for i, item in enumerate(batch):
            event, reason = _check(item)
            if event is None:
                errors.append({"index": i, "error": reason})
            checked.append(event)
        if errors:
            return Response({"error": "no event stored", "events": errors}, status=status.HTTP_400_BAD_REQUEST)
        results = []
        try:
            with transaction.atomic():
                for event in checked:
                    stored, created = event_record(**event)
                    results.append({"event_id": stored.event_id, "created": created})
        except ExperimentError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        any_created = any(r["created"] for r in results)
        code = status.HTTP_201_CREATED if any_created else status.HTTP_200_OK
        return Response(results if isinstance(payload, list) else results[0], status=code)
