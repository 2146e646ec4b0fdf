"""Writes of the weekly human evaluation (seed 000 US-3.6, flywheel of US-8.4): sampling a batch, the
annotation queue, adjudication, closing, and sending items on to the golden set or to training.

The queue is the pattern of a job queue on PostgreSQL: a task row is claimed with
``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL docs, "The Locking Clause": SKIP LOCKED "can be
used to avoid lock contention with multiple consumers accessing a queue-like table"), and the claim
is written to the same row, so a concurrent claimer that reaches the row after the commit re-checks
``holder``/``lock_expires_at`` on the new row version and moves on. Label Studio hands out tasks
the same way (a per-task lock with an expiry, ``get_next_task``); its agreement metrics are in the
paid edition, ours is ``evaluation.agreement``.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from chat.models import Feedback, Trace
from evaluation import bertscore
from evaluation import services as eval_services  # module, not names: services → tasks → this module
from evaluation import tasks as evaluation_tasks  # the metrics task; tasks imports this module back
from evaluation.annotation.rubric import DIMENSIONS, FLAGS, SCALES, AnnotationError, lock_minutes
from evaluation.annotation.selectors import (
    annotation_frame,
    batch_finished,
    bertscore_gate,
    conversation_questions,
    flywheel_candidates,
    held_task,
    sample_candidates,
    session_turns,
    sources_text,
    threshold_suggestion,
    week_bounds,
)
from evaluation.models import (
    Annotation,
    AnnotationBatch,
    AnnotationItem,
    AnnotationReceipt,
    AnnotationTask,
    GoldenDataset,
    TrainingCandidate,
)
from mangaconsole.lib.actors import actor_label as _label


# ------------------------------------------------------------------------------------- sampling
def stratified_allocation(available: dict[str, int], size: int) -> dict[str, int]:
    """How many items to draw per stratum: proportional to its share of ``available`` (Hamilton's
    largest-remainder rounding), and at least one per stratum while the size allows (taken from the
    largest allocation). A proportional quota never exceeds what a stratum has, since size <= total."""
    strata = {k: v for k, v in available.items() if v > 0}
    total = sum(strata.values())
    size = min(size, total)
    if size <= 0:
        return {}
    quotas = {k: size * n / total for k, n in strata.items()}
    alloc = {k: int(q) for k, q in quotas.items()}
    left = size - sum(alloc.values())
    for k in sorted(strata, key=lambda k: (-(quotas[k] - alloc[k]), k))[:left]:
        alloc[k] += 1
    if size >= len(strata):
        for k in [k for k, n in alloc.items() if n == 0]:
            donor = max(alloc, key=lambda j: (alloc[j], j))
            alloc[donor] -= 1
            alloc[k] = 1
    return {k: n for k, n in alloc.items() if n}


@transaction.atomic
def batch_create(
    *,
    actor,
    start: datetime,
    end: datetime,
    size: int | None = None,
    overlap_share: float | None = None,
    source: str = AnnotationBatch.Source.WEEKLY,
    base=None,
    filters: dict | None = None,
    name: str = "",
    seed: int | None = None,
) -> AnnotationBatch:
    """Sample ``size`` responses from traces in [start, end) (or from ``base``, a trace search),
    stratified by intent, and make a batch: ``overlap_share`` of the items need two annotators."""
    size = size if size is not None else settings.ANNOTATION_SAMPLE_SIZE
    overlap_share = overlap_share if overlap_share is not None else settings.ANNOTATION_OVERLAP_SHARE
    if size < 1:
        raise AnnotationError("The batch size must be at least 1.", {"size": "at least 1"})
    if not 0 <= overlap_share <= 1:
        raise AnnotationError("The overlap share must be between 0 and 1.", {"overlap_share": "0 to 1"})
    if end <= start:
        raise AnnotationError("The period must end after it starts.", {"end": "after the start"})
    base = base if base is not None else Trace.objects.all()
    pool = sample_candidates(base.filter(started_at__gte=start, started_at__lt=end))
    by_intent: dict[str, list[int]] = defaultdict(list)
    for pk, intent in pool.order_by("pk").values_list("pk", "intent"):
        by_intent[intent or ""].append(pk)
    if not by_intent:
        raise AnnotationError(
            f"No unannotated answers between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M}; nothing was created."
        )
    rng = random.Random(seed if seed is not None else int(start.timestamp()))
    allocation = stratified_allocation({k: len(v) for k, v in by_intent.items()}, size)
    chosen = [pk for intent in sorted(allocation) for pk in rng.sample(by_intent[intent], allocation[intent])]
    rng.shuffle(chosen)  # annotators see the intents mixed, not in blocks
    overlap = set(rng.sample(range(len(chosen)), round(overlap_share * len(chosen))))
    batch = AnnotationBatch.objects.create(
        name=name or f"{'Week of ' if source == AnnotationBatch.Source.WEEKLY else 'Traces '}{start:%Y-%m-%d}",
        source=source,
        period_start=start,
        period_end=end,
        requested=size,
        overlap_share=overlap_share,
        strata=allocation,
        filters=filters or {},
        created_by=_label(actor),
    )
    traces = Trace.objects.in_bulk(chosen)
    thumbs = dict(
        Feedback.objects.filter(trace_id__in=[t.trace_id for t in traces.values()]).values_list("trace_id", "value")
    )
    items = AnnotationItem.objects.bulk_create(
        AnnotationItem(
            batch=batch,
            trace_id=pk,
            position=i + 1,
            intent=traces[pk].intent,
            release=traces[pk].release,
            needed=2 if i in overlap else 1,
            guardrail_verdict=traces[pk].guardrail_verdict,
            thumbs={"up": 1, "down": -1}.get(thumbs.get(traces[pk].trace_id)),
            escalated=traces[pk].intent == "escalation",
        )
        for i, pk in enumerate(chosen)
    )
    AnnotationTask.objects.bulk_create(
        AnnotationTask(batch=batch, item=item, slot=slot) for item in items for slot in range(1, item.needed + 1)
    )
    audit_record(
        actor=actor,
        action=AuditAction.ANNOTATION,
        target_type="evaluation.annotationbatch",
        target_id=batch.pk,
        after={
            "name": batch.name,
            "items": len(items),
            "overlap_items": len(overlap),
            "strata": allocation,
            "period": [start.isoformat(), end.isoformat()],
        },
        evidence={"source": source, "filters": filters or {}, "candidates": sum(len(v) for v in by_intent.values())},
        reason=f"Human evaluation batch: {batch.name}",
    )
    transaction.on_commit(lambda: _metrics_dispatch(batch.pk))
    return batch


def _metrics_dispatch(batch_id: int) -> None:
    if getattr(settings, "ANNOTATION_METRICS_INLINE", False):
        batch_metrics_compute(batch_id)
        return
    evaluation_tasks.annotation_metrics_task.delay(batch_id)


def weekly_sample(now: datetime | None = None) -> AnnotationBatch | None:
    """The beat task's body: one weekly batch per week; a second run in the same week does nothing."""
    start, end = week_bounds(now)
    if AnnotationBatch.objects.filter(source=AnnotationBatch.Source.WEEKLY, period_start=start).exists():
        return None
    try:
        return batch_create(actor="system:weekly_sample", start=start, end=end)
    except AnnotationError:
        return None


def batch_metrics_compute(batch_id: int, *, chunk: int = 32) -> AnnotationBatch:
    """BERTScore of each answer against the text of the sources it was grounded in (the automated
    metric a golden reference stands in for offline); progress is saved every ``chunk`` items."""
    batch = AnnotationBatch.objects.get(pk=batch_id)
    items = list(batch.items.select_related("trace").filter(bertscore__isnull=True))
    done = batch.items.count() - len(items)
    try:
        for i in range(0, len(items), chunk):
            part = items[i : i + chunk]
            pairs = [(it, it.trace.answer, sources_text(it.trace)) for it in part]
            scorable = [(it, a, s) for it, a, s in pairs if a and s]
            scores = bertscore.score([a for _, a, _ in scorable], [s for _, _, s in scorable]) if scorable else []
            for (it, _, _), value in zip(scorable, scores, strict=True):
                AnnotationItem.objects.filter(pk=it.pk).update(bertscore=value)
            done += len(part)
            AnnotationBatch.objects.filter(pk=batch_id).update(metrics_done=done)
    except Exception as exc:  # noqa: BLE001 - kept on the batch page, the batch stays usable
        AnnotationBatch.objects.filter(pk=batch_id).update(metrics_error=f"{type(exc).__name__}: {exc}")
        raise
    batch.refresh_from_db()
    return batch


def task_next(user, *, attempts: int = 5, skip_locked: bool = True) -> AnnotationTask | None:
    """The task ``user`` should score now: the one they already hold, else a fresh claim on the
    first open task of an item they have never been handed (FOR UPDATE SKIP LOCKED, so concurrent
    annotators each get a different row without waiting). None when the queue has nothing for them.
    ``skip_locked=False`` is the naive queue (every claimer waits on the same first row), kept for
    ``bench_annotation``'s baseline."""
    for _ in range(attempts):
        try:
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    return _claim_postgresql(user, skip_locked=skip_locked)
                return held_task(user) or _claim_orm(user)
        except IntegrityError:
            continue
    return None


# One statement, one round trip: the task this annotator already holds, else a claim on the first
# open task of an item they have never been handed (SKIP LOCKED), with its receipt. The unique
# (item, annotator) receipt stops one person's two concurrent requests from taking both slots of an
# overlap item (the statement fails, and task_next tries again).
_CLAIM_SQL = """
WITH held AS (
    SELECT t.id, t.item_id, t.batch_id, t.slot FROM {task} t
    JOIN {batch} b ON b.id = t.batch_id AND b.status = 'open'
    WHERE t.holder_id = %(user)s AND t.done_at IS NULL AND t.lock_expires_at > %(now)s
    ORDER BY t.claimed_at LIMIT 1
), picked AS (
    SELECT t.id FROM {task} t
    WHERE NOT EXISTS (SELECT 1 FROM held)
      AND t.done_at IS NULL
      AND t.batch_id IN (SELECT b.id FROM {batch} b WHERE b.status = 'open')
      AND (t.holder_id IS NULL OR t.lock_expires_at < %(now)s)
      AND NOT EXISTS (SELECT 1 FROM {receipt} r WHERE r.item_id = t.item_id AND r.annotator_id = %(user)s)
    ORDER BY t.batch_id, t.item_id, t.slot
    LIMIT 1
    FOR UPDATE {skip}
), claimed AS (
    UPDATE {task} t SET holder_id = %(user)s, claimed_at = %(now)s, lock_expires_at = %(until)s
    FROM picked WHERE t.id = picked.id
    RETURNING t.id, t.item_id, t.batch_id, t.slot
), receipt AS (
    INSERT INTO {receipt} (item_id, annotator_id, task_id, received_at, skip_reason)
    SELECT claimed.item_id, %(user)s, claimed.id, %(now)s, '' FROM claimed
    RETURNING task_id
)
SELECT id, item_id, batch_id, slot FROM held
UNION ALL
SELECT c.id, c.item_id, c.batch_id, c.slot FROM claimed c JOIN receipt r ON r.task_id = c.id
"""


def _claim_postgresql(user, *, skip_locked: bool) -> AnnotationTask | None:
    now = timezone.now()
    until = now + timedelta(minutes=lock_minutes())
    sql = _CLAIM_SQL.format(
        task=AnnotationTask._meta.db_table,
        batch=AnnotationBatch._meta.db_table,
        receipt=AnnotationReceipt._meta.db_table,
        skip="SKIP LOCKED" if skip_locked else "",
    )
    with connection.cursor() as cursor:
        # A claim is a soft lock: losing the last few claims in a server crash costs an annotator
        # one reload, so its commit need not wait for the WAL flush (PostgreSQL docs, "Asynchronous
        # Commit": synchronous_commit can be turned off per transaction for less important work).
        # Ten simultaneous fsyncs were most of the next-item latency on this machine.
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute(sql, {"now": now, "until": until, "user": user.pk})
        row = cursor.fetchone()
    if row is None:
        return None
    task_id, item_id, batch_id, slot = row
    return AnnotationTask(
        pk=task_id, item_id=item_id, batch_id=batch_id, slot=slot, holder=user, claimed_at=now, lock_expires_at=until
    )


def _claim_orm(user) -> AnnotationTask | None:
    """The same claim through the ORM, for SQLite (which has no row locks and serialises writers)."""
    now = timezone.now()
    open_batches = AnnotationBatch.objects.filter(status=AnnotationBatch.Status.OPEN).values("pk")
    task = (
        AnnotationTask.objects.filter(batch_id__in=Subquery(open_batches), done_at__isnull=True)
        .filter(Q(holder__isnull=True) | Q(lock_expires_at__lt=now))
        .exclude(Exists(AnnotationReceipt.objects.filter(item_id=OuterRef("item_id"), annotator=user)))
        .order_by("batch_id", "item_id", "slot")
        .first()
    )
    if task is None:
        return None
    task.holder = user
    task.claimed_at = now
    task.lock_expires_at = now + timedelta(minutes=lock_minutes())
    task.save(update_fields=["holder", "claimed_at", "lock_expires_at"])
    AnnotationReceipt.objects.create(item_id=task.item_id, annotator=user, task=task, received_at=now)
    return task


def _owned(user, task_id: int) -> AnnotationTask:
    task = AnnotationTask.objects.select_for_update().filter(pk=task_id).first()
    if task is None:
        raise AnnotationError(f"There is no annotation task {task_id}.")
    if task.done_at is not None:
        raise AnnotationError("This item is already scored; here is your next one.")
    if task.holder_id != user.pk:
        raise AnnotationError(
            f"Your hold on this item ran out after {lock_minutes()} idle minutes and it went to another "
            "annotator; here is your next one."
        )
    return task


def scores_clean(data) -> dict:
    """Validate a submission (a form's POST or a dict); raise AnnotationError naming every problem."""
    errors, clean = {}, {}
    for dim, spec in DIMENSIONS.items():
        raw = str(data.get(dim, "")).strip()
        if raw not in {"1", "2", "3", "4", "5"}:
            errors[dim] = f"{spec['label']}: choose 1 to 5" + (f" (got {raw!r})" if raw else "")
        else:
            clean[dim] = int(raw)
    purchase = str(data.get("purchase", "")).strip().lower()
    if purchase not in {"yes", "no"}:
        errors["purchase"] = "Would it lead to a purchase: choose yes or no"
    else:
        clean["purchase"] = purchase == "yes"
    flags = data.getlist("flags") if hasattr(data, "getlist") else list(data.get("flags", []))
    unknown = sorted(set(flags) - set(FLAGS))
    if unknown:
        errors["flags"] = f"Unknown flags: {', '.join(unknown)}"
    clean["flags"] = sorted(set(flags) & set(FLAGS))
    comment = str(data.get("comment", "")).strip()
    if len(comment) > 4000:
        errors["comment"] = "The comment is longer than 4,000 characters"
    clean["comment"] = comment
    if errors:
        raise AnnotationError("The scores are incomplete: " + "; ".join(errors.values()), errors)
    return clean


@transaction.atomic
def task_submit(user, task_id: int, data) -> Annotation:
    scores = scores_clean(data)
    task = _owned(user, task_id)
    now = timezone.now()
    receipt = AnnotationReceipt.objects.get(item_id=task.item_id, annotator=user)
    annotation = Annotation.objects.create(
        task=task,
        item_id=task.item_id,
        annotator=user,
        seconds=(now - receipt.received_at).total_seconds(),
        created_at=now,
        **scores,
    )
    task.done_at = now
    task.save(update_fields=["done_at"])
    audit_record(
        actor=user,
        action=AuditAction.ANNOTATION,
        target_type="evaluation.annotation",
        target_id=annotation.pk,
        after={"item": task.item_id, "batch": task.batch_id, **scores},
        reason="Annotation submitted",
    )
    return annotation


@transaction.atomic
def task_skip(user, task_id: int, reason: str) -> AnnotationTask:
    reason = (reason or "").strip()
    if not reason:
        raise AnnotationError("Say why you skip this item (for example: not English, needs a specialist).")
    task = _owned(user, task_id)
    AnnotationReceipt.objects.filter(item_id=task.item_id, annotator=user).update(
        skipped_at=timezone.now(), skip_reason=reason[:300]
    )
    task.holder, task.claimed_at, task.lock_expires_at = None, None, None
    task.save(update_fields=["holder", "claimed_at", "lock_expires_at"])
    audit_record(
        actor=user,
        action=AuditAction.ANNOTATION,
        target_type="evaluation.annotationtask",
        target_id=task.pk,
        after={"item": task.item_id, "skipped": True},
        reason=f"Skipped: {reason[:200]}",
    )
    return task


def task_renew(user, task_id: int) -> datetime | None:
    """Extend a hold the annotator is still working on; None when it is no longer theirs."""
    until = timezone.now() + timedelta(minutes=lock_minutes())
    updated = AnnotationTask.objects.filter(pk=task_id, holder=user, done_at__isnull=True).update(lock_expires_at=until)
    return until if updated else None


@transaction.atomic
def item_adjudicate(*, item: AnnotationItem, data, actor) -> AnnotationItem:
    scores = scores_clean(data)
    item = AnnotationItem.objects.select_for_update().get(pk=item.pk)
    before = item.adjudicated or None
    item.adjudicated = scores
    item.adjudicated_by = _label(actor)
    item.adjudicated_at = timezone.now()
    item.save(update_fields=["adjudicated", "adjudicated_by", "adjudicated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.ANNOTATION,
        target_type="evaluation.annotationitem",
        target_id=item.pk,
        before=before,
        after=scores,
        reason=f"Adjudicated item {item.position} of batch {item.batch_id}",
    )
    return item


@transaction.atomic
def batch_close(*, batch: AnnotationBatch, actor, reason: str = "") -> AnnotationBatch:
    batch = AnnotationBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.status == AnnotationBatch.Status.CLOSED:
        return batch
    open_tasks = batch.tasks.filter(done_at__isnull=True).count()
    batch.status = AnnotationBatch.Status.CLOSED
    batch.closed_at = timezone.now()
    batch.save(update_fields=["status", "closed_at"])
    audit_record(
        actor=actor,
        action=AuditAction.ANNOTATION,
        target_type="evaluation.annotationbatch",
        target_id=batch.pk,
        before={"status": "open"},
        after={"status": "closed", "unscored_tasks": open_tasks},
        reason=reason or "Batch closed",
    )
    return batch


def _scores_text(final: dict) -> str:
    return ", ".join(f"{d}={final[d]:g}" for d in SCALES) + f", purchase={'yes' if final['purchase'] else 'no'}"


def items_to_golden(*, batch: AnnotationBatch, references: dict[int, str], actor, dataset: GoldenDataset | None = None):
    """Send low-scored items to the golden dataset as edge cases: a new dataset version whose new
    entries carry the redacted conversation, the quality lead's reference answer, the annotators'
    notes as the rubric, and their provenance. Returns the new version."""
    from guardrails.pii import redact_text  # deferred: presidio's analyzer takes about a second to build

    if not batch_finished(batch):
        raise AnnotationError("Finish or close the batch before sending its items on.")
    candidates = {row["item"].pk: row for row in flywheel_candidates(batch)["golden"]}
    errors = {}
    for item_id, reference in references.items():
        if item_id not in candidates:
            errors[str(item_id)] = "not a low-scored item of this batch (or already sent)"
        elif not (reference or "").strip():
            errors[str(item_id)] = "write the reference answer the bot should have given"
    if not references:
        raise AnnotationError("Choose at least one item to send.")
    if errors:
        raise AnnotationError("Nothing was sent: " + "; ".join(f"item {k}: {v}" for k, v in errors.items()), errors)
    rows, keys = [], {}
    for item_id, reference in references.items():
        row = candidates[item_id]
        item, final = row["item"], row["final"]
        trace = item.trace
        notes = [a.comment for a in row["annotations"] if a.comment]
        key = f"human-b{batch.pk}-i{item.position}"
        keys[item_id] = key
        rows.append(
            {
                "key": key,
                "category": "edge_case",
                "query": redact_text(trace.user_text),
                "turns": [redact_text(t) for t in conversation_questions(trace)],
                "expected_intent": "" if "wrong_intent" in final.get("flags", []) else trace.intent,
                "reference": redact_text(reference.strip()),
                "required": [],
                "prohibited": [],
                "rubric": redact_text(
                    "Annotators' notes: "
                    + (" | ".join(notes) if notes else "(none)")
                    + f". Scores: {_scores_text(final)}."
                ),
                "tags": ["human-eval", f"batch-{batch.pk}", *final.get("flags", [])],
                "expect_block": False,
                "provenance": (
                    f"human eval batch {batch.pk} item {item.position}: trace {trace.trace_id}, "
                    f"scored by {', '.join(a.annotator.username for a in row['annotations'])}"
                    f"{', adjudicated by ' + item.adjudicated_by if item.adjudicated_by else ''}"
                )[:300],
            }
        )
    with transaction.atomic():
        version = eval_services.dataset_version_create(
            dataset=dataset or eval_services.dataset_default(),
            rows=rows,
            actor=actor,
            notes=f"{len(rows)} edge case(s) from human evaluation batch {batch.pk} ({batch.name})",
        )
        for item_id, key in keys.items():
            AnnotationItem.objects.filter(pk=item_id).update(sent_to=f"golden:{key}")
        audit_record(
            actor=actor,
            action=AuditAction.ANNOTATION,
            target_type="evaluation.annotationbatch",
            target_id=batch.pk,
            after={"golden_version": version.number, "keys": sorted(keys.values())},
            reason=f"Low-scored items sent to the golden dataset v{version.number}",
        )
    return version


def items_to_training(*, batch: AnnotationBatch, item_ids: list[int], actor) -> list[TrainingCandidate]:
    from guardrails.pii import redact  # deferred: presidio's analyzer takes about a second to build

    if not batch_finished(batch):
        raise AnnotationError("Finish or close the batch before sending its items on.")
    candidates = {row["item"].pk: row for row in flywheel_candidates(batch)["training"]}
    unknown = [i for i in item_ids if i not in candidates]
    if not item_ids:
        raise AnnotationError("Choose at least one item to send.")
    if unknown:
        raise AnnotationError(f"Nothing was added: items {unknown} are not training candidates of this batch.")
    created = []
    with transaction.atomic():
        for item_id in item_ids:
            row = candidates[item_id]
            item, trace = row["item"], row["item"].trace
            found: set[str] = set()
            turns = []
            for t in session_turns(trace, through=True):
                for role, text in (("user", t.user_text), ("assistant", t.answer)):
                    r = redact(text)
                    found.update(r.entities)
                    turns.append({"role": role, "text": r.text})
            answer = turns[-1]["text"] if turns else ""
            created.append(
                TrainingCandidate.objects.create(
                    item=item,
                    trace_id=trace.trace_id,
                    intent=trace.intent,
                    conversation=turns,
                    answer=answer,
                    scores={k: v for k, v in row["final"].items() if k != "comment"},
                    pii_found=sorted(found),
                    created_by=_label(actor),
                )
            )
            AnnotationItem.objects.filter(pk=item_id).update(sent_to="training")
        audit_record(
            actor=actor,
            action=AuditAction.ANNOTATION,
            target_type="evaluation.annotationbatch",
            target_id=batch.pk,
            after={"training_candidates": [c.pk for c in created]},
            reason=f"{len(created)} conversation(s) added to the training candidates",
        )
    return created


def gate_from_annotations(*, actor) -> dict:
    """Adopt as the golden BERTScore gate the cut that best separates the answers people judged
    acceptable (factual score 4 or 5) from the rest: recomputed here from the scores as they stand,
    audited as a thresholds change naming who judged. A second click changes and records nothing."""
    frame = annotation_frame()
    suggestion = threshold_suggestion(frame)
    gate = bertscore_gate(suggestion)
    if suggestion is None:
        raise AnnotationError("no gate to adopt: it needs human-judged answers both above and below 4 for factual")
    if min(suggestion["acceptable"], suggestion["unacceptable"]) < gate["min_per_class"]:
        raise AnnotationError(
            f"not enough human judgement yet: {suggestion['acceptable']} acceptable and "
            f"{suggestion['unacceptable']} unacceptable answers; the gate needs {gate['min_per_class']} of each"
        )
    threshold = round(suggestion["threshold"], 2)
    reason = (
        f"re-derived from {suggestion['acceptable'] + suggestion['unacceptable']} human-judged answers "
        f"(factual ≥ 4 acceptable; judged by {', '.join(suggestion['judged_by']) or 'annotators'}); "
        f"balanced accuracy {suggestion['balanced_accuracy']}"
    )
    eval_services.dataset_thresholds_update(
        dataset=eval_services.dataset_default(), thresholds={"bertscore_min": threshold}, actor=actor, reason=reason
    )
    return {"threshold": threshold, "was": gate["in_force"], "reason": reason}
