"""Live quality of what serves: per-arm metrics, the canary check (US-3.4) and the production guard (US-3.5).

Metrics come from the traces (one per turn) and the thumbs: escalation rate (turns classified
``escalation``), error rate (turns whose generation failed), hallucination rate (turns a grounding
check — faithfulness, price, ASIN — had to regenerate or replace), guardrail block rate, p99 latency,
thumbs-down rate.

A threshold is "breached" only when the data says so with confidence, not when a handful of turns
wobble: every check needs ``min_samples`` turns and a one-sided test at ``alpha``.

- "error rate > 1%": exact binomial test of the error count against 1% (scipy.stats.binomtest,
  alternative="greater").
- "p99 latency > 3 s" is the same as "more than 1% of turns take over 3 s", so it gets the same exact
  binomial test on the count of turns over 3 s; the observed p99 is reported beside it.
- "escalation rate up more than 2 points": two-proportion z-test of canary minus baseline against
  0.02 (statsmodels ``proportions_ztest(count, nobs, value=0.02, alternative="larger")``).
- Production guard levels (hallucination 5%/3%, escalation 20%/17%, error 1%): binomial tests against
  each level.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from chat.models import Feedback, Trace
from mangaconsole.lib import alerts as alerts_lib
from mangaconsole.lib.alerts import alert_send
from registry.models import AliasEvent, AliasName, Canary, MonitorEvent, Release
from registry.rollout import rollback as rollback_services  # module: rollback → tasks → this module
from registry.selectors import CANARY_CACHE_KEY, release_for_alias
from registry.services import RegistryError

ESCALATION_INTENT = "escalation"
SLOW_MS = 3000.0
HALLUCINATION_RE = r"(faithfulness|price|asin)"


@dataclass
class ArmMetrics:
    release: int
    turns: int
    errors: int
    escalations: int
    slow: int  # turns over SLOW_MS
    hallucinations: int
    blocked: int
    feedback: int
    thumbs_down: int
    p99_ms: float | None

    def rate(self, count: int, of: int | None = None) -> float | None:
        n = self.turns if of is None else of
        return count / n if n else None

    def as_dict(self) -> dict:
        pct = {
            f"{name}_pct": f"{r:.2%}" if r is not None else "—"
            for name, r in (
                ("error", self.rate(self.errors)),
                ("escalation", self.rate(self.escalations)),
                ("hallucination", self.rate(self.hallucinations)),
            )
        }
        return {
            **asdict(self),
            **pct,
            "error_rate": self.rate(self.errors),
            "escalation_rate": self.rate(self.escalations),
            "slow_rate": self.rate(self.slow),
            "hallucination_rate": self.rate(self.hallucinations),
            "block_rate": self.rate(self.blocked),
            "thumbs_down_rate": self.rate(self.thumbs_down, self.feedback),
        }


def arm_metrics(release_number: int, since, until=None, *, session_ids=None) -> ArmMetrics:
    """Counts and rates of the turns ``release_number`` served in [since, until)."""
    traces = Trace.objects.filter(release=release_number, started_at__gte=since)
    feedback = Feedback.objects.filter(release=release_number, created_at__gte=since)
    if until is not None:
        traces, feedback = traces.filter(started_at__lt=until), feedback.filter(created_at__lt=until)
    counts = traces.aggregate(
        turns=Count("pk"),
        errors=Count("pk", filter=~Q(error="")),
        escalations=Count("pk", filter=Q(intent=ESCALATION_INTENT)),
        slow=Count("pk", filter=Q(latency_ms__gt=SLOW_MS)),
        hallucinations=Count("pk", filter=Q(guardrail_reason__iregex=HALLUCINATION_RE)),
        blocked=Count("pk", filter=Q(guardrail_verdict="blocked")),
    )
    fb = feedback.aggregate(n=Count("pk"), down=Count("pk", filter=Q(value="down")))
    return ArmMetrics(
        release=release_number,
        **counts,
        feedback=fb["n"],
        thumbs_down=fb["down"],
        p99_ms=_p99(traces, counts["turns"]),
    )


def _p99(traces, n: int) -> float | None:
    """The nearest-rank 99th percentile of latency, read with one ordered query (no full fetch)."""
    if not n:
        return None
    rank = math.ceil(0.99 * n)  # nearest rank, 1-based
    value = traces.order_by("-latency_ms").values_list("latency_ms", flat=True)[n - rank : n - rank + 1]
    return round(float(value[0]), 1) if value else None


def _binomial_above(count: int, n: int, level: float, alpha: float) -> dict:
    from scipy.stats import binomtest

    p = binomtest(count, n, level, alternative="greater").pvalue if n else 1.0
    return {
        "count": count,
        "n": n,
        "rate": count / n if n else None,
        "threshold": level,
        "p_value": round(p, 6),
        "breached": bool(n and count / n > level and p < alpha),
    }


def _escalation_rise(canary: ArmMetrics, base: ArmMetrics, points: float, alpha: float) -> dict:
    from statsmodels.stats.proportion import proportions_ztest

    rc, rb = canary.rate(canary.escalations), base.rate(base.escalations)
    result = {
        "canary": {"count": canary.escalations, "n": canary.turns, "rate": rc},
        "baseline": {"count": base.escalations, "n": base.turns, "rate": rb},
        "threshold_pp": points * 100,
        "p_value": 1.0,
        "breached": False,
    }
    if canary.turns and base.turns and (canary.escalations + base.escalations) > 0:
        _, p = proportions_ztest(
            [canary.escalations, base.escalations], [canary.turns, base.turns], value=points, alternative="larger"
        )
        p = 1.0 if math.isnan(p) else float(p)
        result["p_value"] = round(p, 6)
        result["breached"] = bool(rc - rb > points and p < alpha)
    return result


# --------------------------------------------------------------------------------- the canary
def canary_limits() -> dict:
    return {
        "min_samples": int(getattr(settings, "CANARY_MIN_SAMPLES", 200)),
        "alpha": float(getattr(settings, "CANARY_ALPHA", 0.05)),
        "escalation_rise": 0.02,
        "error_rate": 0.01,
        "slow_rate": 0.01,  # p99 latency > 3 s
    }


def canary_evaluate(canary: Canary) -> dict:
    """Both arms since the canary started, and each auto-rollback rule's test."""
    limits = canary_limits()
    c = arm_metrics(canary.release.number, canary.started_at)
    b = arm_metrics(canary.baseline.number, canary.started_at)
    enough = c.turns >= limits["min_samples"]
    checks = {
        "error_rate": _binomial_above(c.errors, c.turns, limits["error_rate"], limits["alpha"]),
        "p99_latency": {
            **_binomial_above(c.slow, c.turns, limits["slow_rate"], limits["alpha"]),
            "p99_ms": c.p99_ms,
            "limit_ms": SLOW_MS,
        },
        "escalation_rise": _escalation_rise(c, b, limits["escalation_rise"], limits["alpha"]),
    }
    breached = [name for name, check in checks.items() if enough and check["breached"]]
    return {
        "at": timezone.now().isoformat(),
        "percent": canary.percent,
        "canary": c.as_dict(),
        "baseline": b.as_dict(),
        "arms": [["Canary", c.as_dict()], ["Production", b.as_dict()]],
        "limits": limits,
        "enough_samples": enough,
        "checks": checks,
        "breached": breached,
        "verdict": "rollback" if breached else ("healthy" if enough else "collecting"),
    }


def canary_check() -> dict | None:
    """The beat task's body: evaluate the active canary, store the evidence on it, and roll it back
    when a rule is breached (audited and alerted). Returns the evaluation, or None without a canary."""
    canary = Canary.objects.select_related("release", "baseline").filter(state=Canary.State.ACTIVE).first()
    if canary is None:
        return None
    result = canary_evaluate(canary)
    if not result["breached"]:
        Canary.objects.filter(pk=canary.pk, state=Canary.State.ACTIVE).update(decision=result)
        return result
    summary = f"Canary of release {canary.release.number} at {canary.percent}% rolled back automatically: " + "; ".join(
        _describe(name, result["checks"][name]) for name in result["breached"]
    )
    with transaction.atomic():
        moved = Canary.objects.filter(pk=canary.pk, state=Canary.State.ACTIVE).update(
            state=Canary.State.ROLLED_BACK, decision=result, finished_at=timezone.now()
        )
        if not moved:  # a person stopped or promoted it meanwhile
            return result
        event = MonitorEvent.objects.create(
            kind=MonitorEvent.Kind.CANARY_ROLLBACK,
            release=canary.release,
            at=timezone.now(),
            summary=summary,
            evidence=result,
        )
        audit_record(
            actor="system:canary",
            action=AuditAction.CANARY,
            target_type="registry.canary",
            target_id=canary.pk,
            before={"state": "active", "percent": canary.percent},
            after={"state": "rolled_back", "serving": f"production (release {canary.baseline.number})"},
            evidence=result,
            reason=summary,
        )
        transaction.on_commit(lambda: cache.delete(CANARY_CACHE_KEY))
    alerts = alert_send(
        subject=f"[MangaAssist] canary of release {canary.release.number} rolled back",
        body=summary,
        payload={
            "event": "canary_rollback",
            "release": canary.release.number,
            "breached": result["breached"],
            "checks": result["checks"],
        },
    )
    MonitorEvent.objects.filter(pk=event.pk).update(alert_result=alerts)
    return result


def _describe(name: str, check: dict) -> str:
    if name == "escalation_rise":
        rc, rb = check["canary"]["rate"] or 0, check["baseline"]["rate"] or 0
        return (
            f"escalation {rc:.1%} vs baseline {rb:.1%} (+{(rc - rb) * 100:.1f} pp > {check['threshold_pp']:.0f} pp, "
            f"p={check['p_value']:.3g})"
        )
    what = {"error_rate": "error rate", "p99_latency": "turns over 3 s (p99 > 3 s)"}.get(name, name)
    text = f"{what} {check['count']}/{check['n']} = {check['rate']:.2%} > {check['threshold']:.0%}"
    text += f" (p={check['p_value']:.3g})"
    if name == "p99_latency" and check.get("p99_ms") is not None:
        text += f", p99 {check['p99_ms'] / 1000:.2f} s"
    return text


# ------------------------------------------------------------------------ the production guard
GUARD_HARD = {"hallucination_rate": 0.05, "escalation_rate": 0.20, "error_rate": 0.01}
GUARD_SOFT = {"hallucination_rate": 0.03, "escalation_rate": 0.17}
_COUNT_OF = {"hallucination_rate": "hallucinations", "escalation_rate": "escalations", "error_rate": "errors"}


def guard_evaluate(release: Release, since) -> dict:
    limits = canary_limits()
    m = arm_metrics(release.number, since)
    enough = m.turns >= limits["min_samples"]
    hard = {k: _binomial_above(getattr(m, _COUNT_OF[k]), m.turns, v, limits["alpha"]) for k, v in GUARD_HARD.items()}
    soft = {k: _binomial_above(getattr(m, _COUNT_OF[k]), m.turns, v, limits["alpha"]) for k, v in GUARD_SOFT.items()}
    return {
        "at": timezone.now().isoformat(),
        "release": release.number,
        "since": since.isoformat(),
        "metrics": m.as_dict(),
        "limits": limits,
        "enough_samples": enough,
        "hard": hard,
        "soft": soft,
        "hard_breached": [k for k, c in hard.items() if enough and c["breached"]],
        "soft_breached": [k for k, c in soft.items() if enough and c["breached"]],
    }


def production_guard(*, window_minutes: int | None = None) -> dict | None:
    """The beat task's body (US-3.5): over the turns production served since its last move (at most
    ``window_minutes`` back), a hard threshold breached rolls production back to the previous release
    (through ``release_rollback``: one alias move, its evaluation and alert follow); a soft one pages
    on-call once per release and metric, without a rollback."""
    release = release_for_alias(AliasName.PRODUCTION)
    if release is None:
        return None
    window = window_minutes or int(getattr(settings, "GUARD_WINDOW_MINUTES", 60))
    moved = AliasEvent.objects.filter(alias=AliasName.PRODUCTION).order_by("-at", "-id").values_list("at", flat=True)
    since = max(timezone.now() - timedelta(minutes=window), moved.first() or timezone.now())
    result = guard_evaluate(release, since)
    if result["hard_breached"]:
        summary = "Production guard: " + "; ".join(
            _describe_level(k, result["hard"][k]) for k in result["hard_breached"]
        )
        try:
            rollback = rollback_services.release_rollback(
                actor="system:production-guard", reason=summary, expected_release=release.number
            )
        except RegistryError as exc:  # already moved, or nothing to go back to: page instead
            result["rollback_error"] = str(exc)
            _page(release, "hard:" + ",".join(result["hard_breached"]), f"{summary} (no rollback: {exc})", result)
            return result
        with transaction.atomic():
            MonitorEvent.objects.create(
                kind=MonitorEvent.Kind.GUARD_ROLLBACK,
                release=release,
                at=timezone.now(),
                summary=summary,
                evidence=result,
                alert_result={"rollback": rollback.pk},
            )
            audit_record(
                actor="system:production-guard",
                action=AuditAction.GUARD,
                target_type="registry.release",
                target_id=release.number,
                before={"production": release.number},
                after={"production": rollback.to_release.number},
                evidence=result,
                reason=summary,
            )
        result["rolled_back_to"] = rollback.to_release.number
        return result
    for key in result["soft_breached"]:
        _page(
            release,
            key,
            "Production guard (soft, no rollback): " + _describe_level(key, result["soft"][key]),
            result,
            alert_send=alert_send,
        )
    return result


def _describe_level(key: str, check: dict) -> str:
    return (
        f"{key.replace('_', ' ')} {check['count']}/{check['n']} = {check['rate']:.2%} > {check['threshold']:.0%} "
        f"(p={check['p_value']:.3g})"
    )


def _page(release: Release, key: str, summary: str, evidence: dict, alert_send=None) -> bool:
    """Alert on-call once per (release, metric) per hour; audited with the evidence."""
    alert_send = alert_send or alerts_lib.alert_send
    if not cache.add(f"registry:guard-page:{release.pk}:{key}", 1, 3600):
        return False
    alerts = alert_send(
        subject=f"[MangaAssist] page: release {release.number} {key}",
        body=summary,
        payload={"event": "guard_page", "release": release.number, "metric": key},
    )
    with transaction.atomic():
        MonitorEvent.objects.create(
            kind=MonitorEvent.Kind.GUARD_PAGE,
            release=release,
            at=timezone.now(),
            summary=summary,
            evidence=evidence,
            alert_result=alerts,
        )
        audit_record(
            actor="system:production-guard",
            action=AuditAction.GUARD,
            target_type="registry.release",
            target_id=release.number,
            after={"paged": key},
            evidence=evidence,
            reason=summary,
        )
    return True
