"""Storefront events over HTTP (US-2.3): POST /api/events/ with the chat session id.

{"event_id": "...", "session_id": "<uuid>", "kind": "conversion" | "resolution" | "escalation" | "csat",
 "value"?: number, "at"?: ISO time}, or a JSON list of them (at most 500). Idempotent on event_id: a
repeat answers 200 with ``"created": false`` and stores nothing new. A batch is checked whole first;
one bad event rejects the batch with the index and reason of every bad one, so nothing is half stored.
"""

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from experiments.models import Event
from experiments.services import ExperimentError, event_record

MAX_BATCH = 500


class EventSerializer(serializers.Serializer):
    event_id = serializers.CharField(max_length=100, trim_whitespace=True)
    session_id = serializers.UUIDField(help_text="The chat session's id (the WebSocket's session frame)")
    kind = serializers.ChoiceField(choices=Event.Kind.values)
    value = serializers.FloatField(default=1.0, help_text="1 for conversion, resolution, escalation; 1-5 for CSAT")
    at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate(self, attrs):
        if attrs["kind"] == Event.Kind.CSAT and not 1 <= attrs["value"] <= 5:
            raise serializers.ValidationError({"value": "a CSAT value is between 1 and 5"})
        return attrs


class EventResultSerializer(serializers.Serializer):
    event_id = serializers.CharField()
    created = serializers.BooleanField(help_text="false when this event_id was stored before (nothing new stored)")


def _reason(errors) -> str:
    """One line per bad event: 'field: message; …' from a serializer's errors."""
    if isinstance(errors, dict):
        return "; ".join(
            f"{'event' if k == 'non_field_errors' else k}: {' '.join(map(str, v))}" for k, v in errors.items()
        )
    return " ".join(map(str, errors))


class EventCreate(APIView):
    required_permission = "experiments.add_event"

    @extend_schema(
        request=EventSerializer(many=True),
        responses={201: EventResultSerializer(many=True), 200: EventResultSerializer(many=True)},
        description="One event object, or a list of 1 to 500 (a bad batch stores nothing and lists each bad event).",
    )
    def post(self, request):
        payload = request.data
        batch = payload if isinstance(payload, list) else [payload]
        if not batch or len(batch) > MAX_BATCH:
            return Response({"error": f"send 1 to {MAX_BATCH} events"}, status=status.HTTP_400_BAD_REQUEST)
        errors, checked = [], []
        for i, item in enumerate(batch):
            if not isinstance(item, dict):
                errors.append({"index": i, "error": "an event is a JSON object"})
                continue
            event = EventSerializer(data=item)
            if not event.is_valid():
                errors.append({"index": i, "error": _reason(event.errors)})
                continue
            checked.append(event.validated_data)
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
