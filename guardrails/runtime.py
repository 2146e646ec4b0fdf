"""Guarding an answer once it is assembled: the streaming verdict, the post-generation checks, and
one strict regeneration before a safe fallback (US-7.3, US-7.4).

Turn verdicts (``Trace.guardrail_verdict``): ``pass``; ``modified`` (PII redacted or a link removed,
the answer otherwise stands); ``regenerated`` (a check failed, the strict regeneration passed);
``replaced`` (the stream was cut, or the regeneration failed too: the user got the fallback);
``blocked`` (pre-generation refused the message). The guardrail pass rate is the share of ``pass``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from guardrails.checks import Decision, post_checks
from guardrails.policy import Policy
from guardrails.streaming import FACT_PATTERNS, StreamGuard

# Failures a stricter generation can fix; the others (toxicity, competitors) may be fixed too, so
# every blocking failure gets one regeneration when the caller can regenerate.
GROUNDING_CHECKS = {"faithfulness", "price", "asin"}


@dataclass
class GuardOutcome:
    answer: str
    verdict: str
    reason: str = ""
    decisions: list[Decision] = field(default_factory=list)
    replaced: bool = False  # the client must be told to replace what it was streamed


def blocked_outcome(fallback: str, decisions: list[Decision], check: str) -> GuardOutcome:
    return GuardOutcome(fallback, "blocked", check, decisions, False)


def guard_answer(
    streamed: str,
    *,
    hits: list,
    question: str,
    policy: Policy,
    stream_guard: StreamGuard | None = None,
    regenerate: Callable[[], str] | None = None,
) -> GuardOutcome:
    decisions: list[Decision] = []
    held_fact = None  # a fabricated price or ASIN the stream held back: the post checks decide below
    if stream_guard is not None:
        decisions.append(stream_guard.decision())
        pattern = stream_guard.violation.detail.get("pattern", "") if stream_guard.violation is not None else ""
        if pattern in FACT_PATTERNS:
            held_fact = pattern
        elif stream_guard.violation is not None:
            # the full checks still run on what was assembled, for the record
            decisions += post_checks(streamed, hits=hits, question=question, policy=policy).decisions
            reason = f"stream_filter:{stream_guard.violation.detail.get('pattern', '')}"
            return GuardOutcome(policy.fallback("stream"), "replaced", reason, decisions, True)

    post = post_checks(streamed, hits=hits, question=question, policy=policy)
    decisions += post.decisions
    if not post.violations and held_fact:  # the two checks disagree: what was cut is not sent
        return GuardOutcome(policy.fallback("stream"), "replaced", f"stream_filter:{held_fact}", decisions, True)
    if not post.violations:
        modified = [d.check for d in post.decisions if d.verdict == "modify"]
        changed = post.text != streamed
        return GuardOutcome(post.text, "modified" if changed else "pass", ",".join(modified), decisions, changed)

    reasons = [d.check for d in post.violations]
    if regenerate is not None:
        started = time.perf_counter()
        second = regenerate()
        again = post_checks(second, hits=hits, question=question, policy=policy)
        for d in again.decisions:
            d.detail = {**d.detail, "regeneration": True}
        ok = not again.violations
        decisions.append(
            Decision(
                "regenerate",
                "post",
                "pass" if ok else "block",
                (time.perf_counter() - started) * 1000,
                {"after": reasons, "still_failing": [d.check for d in again.violations]},
            )
        )
        decisions += again.decisions
        if ok:
            return GuardOutcome(again.text, "regenerated", ",".join(reasons), decisions, True)
    kind = "escalation" if GROUNDING_CHECKS & set(reasons) else "post"
    return GuardOutcome(policy.fallback(kind), "replaced", ",".join(reasons), decisions, True)
