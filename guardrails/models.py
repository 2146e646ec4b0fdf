"""Guardrail decisions as counted events, and the security-review log of blocked attempts."""

from django.conf import settings
from django.db import models


class GuardrailEvent(models.Model):
    """One decision of one check on one turn (written in bulk with the turn's trace)."""

    class Stage(models.TextChoices):
        PRE = "pre", "Pre-generation"
        STREAM = "stream", "Streaming"
        POST = "post", "Post-generation"

    class Verdict(models.TextChoices):
        PASS = "pass", "Pass"
        MODIFY = "modify", "Modified"
        BLOCK = "block", "Blocked"
        SKIP = "skip", "Skipped"

    class Review(models.TextChoices):
        UNREVIEWED = "", "Not reviewed"
        CONFIRMED = "confirmed", "Confirmed attack / violation"
        FALSE_POSITIVE = "false_positive", "False positive"

    trace_id = models.UUIDField(db_index=True)
    session_id = models.UUIDField(null=True, blank=True)
    release = models.PositiveIntegerField(null=True, blank=True)
    policy_version = models.CharField(max_length=80, blank=True)
    stage = models.CharField(max_length=10, choices=Stage.choices)
    check_name = models.CharField("check", max_length=40, db_index=True)
    verdict = models.CharField(max_length=10, choices=Verdict.choices, db_index=True)
    latency_ms = models.FloatField(default=0)
    score = models.FloatField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    text = models.TextField(blank=True, help_text="The user's message, PII redacted (kept for blocks only)")
    created_at = models.DateTimeField(db_index=True)
    review = models.CharField(max_length=20, choices=Review.choices, blank=True, default="")
    review_note = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_at", "check_name", "verdict"], name="guard_event_time_check")]
        permissions = [("review_guardrailevent", "Can review guardrail decisions (false positive or confirmed)")]

    def __str__(self) -> str:
        return f"{self.stage}:{self.check_name} {self.verdict}"
