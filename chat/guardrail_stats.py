"""Reads of the traces for the guardrails console: pass and block rates, blocks by check, the review log
(here in chat, which owns the traces; guardrails sits below chat and does not read them)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q
from django.db.models.functions import TruncDay, TruncHour

from chat.models import Trace
from guardrails.models import GuardrailEvent


def guardrail_summary(*, start: datetime, end: datetime) -> dict:
    """Turn verdicts and per-check decision counts in [start, end)."""
    traces = Trace.objects.filter(started_at__gte=start, started_at__lt=end).exclude(guardrail_verdict="")
    verdicts = dict(traces.values_list("guardrail_verdict").annotate(n=Count("id")).order_by())
    turns = sum(verdicts.values())
    events = GuardrailEvent.objects.filter(created_at__gte=start, created_at__lt=end)
    per_check = list(
        events.exclude(verdict=GuardrailEvent.Verdict.SKIP)
        .values("stage", "check_name")
        .annotate(
            total=Count("id"),
            blocked=Count("id", filter=Q(verdict=GuardrailEvent.Verdict.BLOCK)),
            modified=Count("id", filter=Q(verdict=GuardrailEvent.Verdict.MODIFY)),
            false_positives=Count("id", filter=Q(review=GuardrailEvent.Review.FALSE_POSITIVE)),
        )
        .order_by("stage", "check_name")
    )
    for row in per_check:
        row["block_rate"] = row["blocked"] / row["total"] if row["total"] else 0.0
    reviewed = events.exclude(review="")
    pass_rate = verdicts.get("pass", 0) / turns if turns else None
    block_rate = (verdicts.get("blocked", 0) + verdicts.get("replaced", 0)) / turns if turns else None
    return {
        "pass_rate_pct": "—" if pass_rate is None else f"{pass_rate:.1%}",
        "block_rate_pct": "—" if block_rate is None else f"{block_rate:.1%}",
        "turns": turns,
        "verdicts": verdicts,
        "pass_rate": verdicts.get("pass", 0) / turns if turns else None,
        "block_rate": (verdicts.get("blocked", 0) + verdicts.get("replaced", 0)) / turns if turns else None,
        "per_check": per_check,
        "reviewed": reviewed.count(),
        "false_positives": reviewed.filter(review=GuardrailEvent.Review.FALSE_POSITIVE).count(),
    }


def verdicts_over_time(*, start: datetime, end: datetime) -> list[dict]:
    """Turns per verdict per hour (ranges up to two days) or per day."""
    bucket = TruncHour if (end - start).total_seconds() <= 2 * 86400 else TruncDay
    return list(
        Trace.objects.filter(started_at__gte=start, started_at__lt=end)
        .exclude(guardrail_verdict="")
        .annotate(bucket=bucket("started_at"))
        .values("bucket", "guardrail_verdict")
        .annotate(n=Count("id"))
        .order_by("bucket")
    )


def review_log(
    *,
    start: datetime,
    end: datetime,
    check: str = "",
    stage: str = "",
    verdict: str = "block",
    review: str | None = None,
):
    """Guardrail decisions for security review, newest first."""
    events = GuardrailEvent.objects.filter(created_at__gte=start, created_at__lt=end).select_related("reviewed_by")
    if verdict:
        events = events.filter(verdict=verdict)
    else:
        events = events.exclude(verdict__in=[GuardrailEvent.Verdict.PASS, GuardrailEvent.Verdict.SKIP])
    if check:
        events = events.filter(check_name=check)
    if stage:
        events = events.filter(stage=stage)
    if review is not None:
        events = events.filter(review=review)
    return events.order_by("-created_at", "-id")


def known_checks() -> list[str]:
    return list(GuardrailEvent.objects.values_list("check_name", flat=True).distinct().order_by("check_name"))
