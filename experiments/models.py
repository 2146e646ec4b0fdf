"""A/B experiments of releases (US-2.3, US-8.5, S30).

An experiment compares arms, each a release (the control is production's release when it starts).
A unit is a chat session: it is assigned by a hash of the experiment's salt and the session id
(experiments.assignment), its exposure is logged once, and its metrics come from its traces, thumbs
and storefront events after that exposure.
"""

import secrets

from django.db import models


class Metric(models.TextChoices):
    THUMBS_UP = "thumbs_up", "Thumbs-up rate (sessions with a thumbs up)"
    THUMBS_DOWN = "thumbs_down", "Thumbs-down rate (sessions with a thumbs down)"
    ESCALATION = "escalation", "Escalation rate (sessions asking for a person)"
    RESOLUTION = "resolution", "Resolution rate (storefront event)"
    CONVERSION = "conversion", "Conversion rate (storefront event)"
    CSAT = "csat", "CSAT (mean score of rated sessions)"
    RESPONSE_LENGTH = "response_length", "Response length (characters per answer)"
    LATENCY = "latency_ms", "Latency (ms per turn)"
    COST = "cost_usd", "Cost (USD per session)"


# For guardrail metrics: which direction is harm.
HIGHER_IS_WORSE = {Metric.THUMBS_DOWN, Metric.ESCALATION, Metric.LATENCY, Metric.COST}


def _salt() -> str:
    return secrets.token_hex(8)


class Experiment(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        STOPPED = "stopped", "Stopped"
        ARCHIVED = "archived", "Archived"

    name = models.CharField(max_length=120, unique=True)
    hypothesis = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    salt = models.CharField(max_length=32, default=_salt, help_text="Hashed with the session id to assign arms")
    enrolled_percent = models.PositiveSmallIntegerField(default=100, help_text="Share of eligible sessions enrolled")
    targeting = models.JSONField(
        default=dict, blank=True, help_text='{"user_types": ["prime", "signed_in", "guest"], "regions": ["JP", …]}'
    )
    primary_metric = models.CharField(max_length=20, choices=Metric.choices, default=Metric.THUMBS_UP)
    guardrail_metrics = models.JSONField(default=list, blank=True)
    alpha = models.FloatField(default=0.05)
    planned_days = models.PositiveSmallIntegerField(default=14)
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.TextField(blank=True)
    decision = models.JSONField(default=dict, blank=True, help_text="The last analysis: per-arm results, SRM")
    winner = models.ForeignKey("Variant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    archive = models.JSONField(default=dict, blank=True, help_text="Configuration, releases and result at the end")

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("run_experiment", "Can start, pause and stop an experiment"),
            ("promote_experiment", "Can promote an experiment's winning arm to production"),
        ]

    def __str__(self) -> str:
        return self.name


class Variant(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    key = models.SlugField(max_length=30)
    name = models.CharField(max_length=120)
    release = models.ForeignKey("registry.Release", on_delete=models.PROTECT, related_name="+")
    weight = models.PositiveSmallIntegerField(help_text="Percent of enrolled sessions")
    is_control = models.BooleanField(default=False)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["experiment", "order"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "key"], name="variant_key_unique"),
            models.UniqueConstraint(fields=["experiment", "release"], name="variant_release_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.experiment.name}:{self.key}"


class Exposure(models.Model):
    """A session's first assignment in an experiment (logged once; later turns reuse it)."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="exposures")
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="exposures")
    unit_id = models.UUIDField(help_text="The chat session id")
    user_id = models.IntegerField(null=True, blank=True)
    at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["experiment", "unit_id"], name="one_exposure_per_unit")]
        indexes = [models.Index(fields=["unit_id"])]

    def __str__(self) -> str:
        return f"{self.unit_id} → {self.variant_id}"


class Event(models.Model):
    """A storefront or bot event about a session; idempotent on ``event_id``."""

    class Kind(models.TextChoices):
        CONVERSION = "conversion", "Conversion"
        RESOLUTION = "resolution", "Resolution"
        ESCALATION = "escalation", "Escalation"
        CSAT = "csat", "CSAT score"

    event_id = models.CharField(max_length=100, unique=True)
    session_id = models.UUIDField(db_index=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    value = models.FloatField(default=1.0)
    at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["session_id", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.session_id}"


class SessionStat(models.Model):
    """Per-session running totals, kept as turns, thumbs and events are written, so an experiment's
    analysis is one join of its exposures with this table (no per-unit aggregation over raw rows)."""

    session_id = models.UUIDField(unique=True)
    turns = models.IntegerField(default=0)
    latency_sum = models.FloatField(default=0)
    cost_sum = models.FloatField(default=0)
    length_sum = models.FloatField(default=0)
    escalations = models.IntegerField(default=0)
    thumbs_up = models.IntegerField(default=0)
    thumbs_down = models.IntegerField(default=0)
    conversions = models.IntegerField(default=0)
    resolutions = models.IntegerField(default=0)
    csat_sum = models.FloatField(default=0)
    csat_n = models.IntegerField(default=0)

    def __str__(self) -> str:
        return str(self.session_id)
