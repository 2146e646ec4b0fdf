"""Writes of the guardrails app: a reviewer's verdict on a decision (audited)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from guardrails.models import GuardrailEvent


class ReviewError(ValueError):
    """A review that cannot be recorded; the message says why."""


@transaction.atomic
def event_review(*, event_id: int, review: str, note: str, actor) -> GuardrailEvent:
    """Mark a guardrail decision as a confirmed attack/violation or a false positive. Reviewing the
    same event again replaces the verdict (both are in the audit log)."""
    if review not in (GuardrailEvent.Review.CONFIRMED, GuardrailEvent.Review.FALSE_POSITIVE):
        raise ReviewError("A review is 'confirmed' or 'false_positive'.")
    event = GuardrailEvent.objects.select_for_update().filter(pk=event_id).first()
    if event is None:
        raise ReviewError(f"No guardrail decision {event_id}.")
    if event.verdict in (GuardrailEvent.Verdict.PASS, GuardrailEvent.Verdict.SKIP):
        raise ReviewError("Only blocked or modified decisions are reviewed.")
    before = {"review": event.review, "note": event.review_note}
    event.review, event.review_note = review, note[:2000]
    event.reviewed_by, event.reviewed_at = actor, timezone.now()
    event.save(update_fields=["review", "review_note", "reviewed_by", "reviewed_at"])
    audit_record(
        actor=actor,
        action=AuditAction.GUARDRAIL_REVIEW,
        target_type="guardrails.guardrailevent",
        target_id=str(event.pk),
        before=before,
        after={"review": review, "note": event.review_note, "check": event.check_name, "trace": str(event.trace_id)},
        reason=note,
    )
    return event
