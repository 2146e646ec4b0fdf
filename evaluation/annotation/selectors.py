"""Reads of the weekly human evaluation: queue progress, what an annotator sees, agreement, final
scores, flywheel candidates, trends and calibration. Nothing here writes."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from statistics import mean, median

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from chat.models import KnowledgeChunk, Product, Trace
from evaluation import agreement, bertscore, scoring
from evaluation.annotation.rubric import DISAGREEMENT_GAP, HIGH_SCORE, LOW_SCORE, SCALES
from evaluation.models import (
    Annotation,
    AnnotationBatch,
    AnnotationItem,
    AnnotationReceipt,
    AnnotationTask,
    GoldenDataset,
    GoldenEntry,
    TrainingCandidate,
)


def sample_candidates(base):
    """Answered, error-free, not blocked, and not in any batch yet."""
    in_batch = AnnotationItem.objects.filter(trace_id=OuterRef("pk"))
    return (
        base.exclude(answer="")
        .filter(error="")
        .exclude(guardrail_verdict="blocked")
        .annotate(_in_batch=Exists(in_batch))
        .filter(_in_batch=False)
    )


def week_bounds(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The last full ISO week (Monday 00:00 to Monday 00:00, UTC) before ``now``."""
    now = now or timezone.now()
    monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return monday - timedelta(days=7), monday


def sources_text(trace: Trace) -> str:
    ids = [c.get("chunk_id") for c in trace.citations or [] if isinstance(c, dict) and c.get("chunk_id")]
    chunks = KnowledgeChunk.objects.in_bulk(ids)
    return "\n".join(chunks[i].text for i in ids if i in chunks)


# ---------------------------------------------------------------------------------------- queue
def held_task(user) -> AnnotationTask | None:
    return (
        AnnotationTask.objects.filter(
            holder=user, done_at__isnull=True, lock_expires_at__gt=timezone.now(), batch__status="open"
        )
        .order_by("claimed_at")
        .first()
    )


def queue_progress(user) -> list[dict]:
    """Per open batch: annotations done of needed, and this annotator's own counts."""
    rows = []
    batches = AnnotationBatch.objects.filter(status=AnnotationBatch.Status.OPEN).annotate(
        total=Count("tasks", distinct=True), done=Count("tasks", filter=Q(tasks__done_at__isnull=False), distinct=True)
    )
    for batch in batches.order_by("created_at"):
        mine = Annotation.objects.filter(item__batch=batch, annotator=user).count()
        skipped = AnnotationReceipt.objects.filter(item__batch=batch, annotator=user, skipped_at__isnull=False).count()
        rows.append({"batch": batch, "total": batch.total, "done": batch.done, "mine": mine, "skipped": skipped})
    return rows


def item_context(item: AnnotationItem) -> dict:
    """What an annotator sees: the conversation so far, the answer, its sources and catalog facts.
    Blind: no release, no experiment arm, no one else's scores."""
    trace = item.trace
    earlier = list(session_turns(trace).values("user_text", "answer")[:10])
    citations = [c for c in trace.citations or [] if isinstance(c, dict)]
    chunks = KnowledgeChunk.objects.in_bulk([c.get("chunk_id") for c in citations if c.get("chunk_id")])
    sources = [
        {
            "title": c.get("title", ""),
            "source": c.get("source", ""),
            "text": getattr(chunks.get(c.get("chunk_id")), "text", ""),
        }
        for c in citations
    ]
    asins = [c["key"].split(":", 1)[1] for c in citations if str(c.get("key", "")).startswith("catalog:")]
    products = list(Product.objects.filter(asin__in=asins))
    return {
        "earlier": earlier,
        "question": trace.user_text,
        "answer": trace.answer,
        "sources": sources,
        "products": products,
    }


# ------------------------------------------------------------------------------------ agreement
def annotation_pairs(batch: AnnotationBatch) -> dict[tuple, list[tuple[Annotation, Annotation]]]:
    by_item: dict[int, list[Annotation]] = defaultdict(list)
    for a in Annotation.objects.filter(item__batch=batch, item__needed__gte=2).select_related("annotator"):
        by_item[a.item_id].append(a)
    pairs: dict[tuple, list] = defaultdict(list)
    for anns in by_item.values():
        if len(anns) < 2:
            continue
        first, second = sorted(anns[:2], key=lambda a: a.annotator.username)
        pairs[(first.annotator.username, second.annotator.username)].append((first, second))
    return pairs


def batch_agreement(batch: AnnotationBatch) -> dict:
    """Cohen's kappa per dimension for every annotator pair on their shared items (linear weighted
    for the 1-5 scales), and over all pairs pooled; dimensions under the 0.7 target are flagged."""
    pairs = annotation_pairs(batch)
    dims = [*SCALES, "purchase"]
    out_pairs, pooled = [], {d: ([], []) for d in dims}
    for (a, b), items in sorted(pairs.items()):
        row = {"a": a, "b": b, "n": len(items), "kappa": {}}
        for d in dims:
            first = [getattr(x, d) for x, _ in items]
            second = [getattr(y, d) for _, y in items]
            row["kappa"][d] = agreement.kappa(first, second, ordinal=d != "purchase")
            pooled[d][0].extend(first)
            pooled[d][1].extend(second)
        out_pairs.append(row)
    overall = {}
    for d in dims:
        value = agreement.kappa(*pooled[d], ordinal=d != "purchase")
        overall[d] = {
            "kappa": value,
            "n": len(pooled[d][0]),
            "below": value is not None and value < agreement.KAPPA_TARGET,
        }
    return {"pairs": out_pairs, "overall": overall, "target": agreement.KAPPA_TARGET, "dims": dims}


def batch_annotators(batch: AnnotationBatch) -> list[dict]:
    """Per annotator: items scored and skipped, median seconds per item, and mean scores, so a lead
    can spot a lenient or a harsh scorer, or one who rushes."""
    rows: dict[str, dict] = {}
    for a in Annotation.objects.filter(item__batch=batch).select_related("annotator"):
        row = rows.setdefault(a.annotator.username, {"annotator": a.annotator.username, "anns": [], "skipped": 0})
        row["anns"].append(a)
    skips = AnnotationReceipt.objects.filter(item__batch=batch, skipped_at__isnull=False).select_related("annotator")
    for r in skips:
        rows.setdefault(r.annotator.username, {"annotator": r.annotator.username, "anns": [], "skipped": 0})
        rows[r.annotator.username]["skipped"] += 1
    out = []
    for name in sorted(rows):
        row, anns = rows[name], rows[name].pop("anns")
        row["scored"] = len(anns)
        row["median_seconds"] = median(a.seconds for a in anns) if anns else None
        row["means"] = {d: mean(getattr(a, d) for a in anns) if anns else None for d in SCALES}
        row["purchase_rate"] = mean(a.purchase for a in anns) if anns else None
        out.append(row)
    return out


def agreement_by_batch(limit: int = 26) -> list[dict]:
    """The all-pairs kappa per dimension of each of the last ``limit`` batches, oldest first."""
    batches = list(AnnotationBatch.objects.order_by("-period_start", "-pk")[:limit])
    rows = []
    for batch in reversed(batches):
        result = batch_agreement(batch)
        if result["pairs"]:
            rows.append({"batch": batch, "overall": result["overall"]})
    return rows


def batch_disagreements(batch: AnnotationBatch) -> list[dict]:
    """Overlap items whose annotators are ``DISAGREEMENT_GAP`` or more apart on a scale, or answered
    the purchase question differently: the quality lead's adjudication list."""
    rows = []
    for items in annotation_pairs(batch).values():
        for first, second in items:
            gaps = {d: abs(getattr(first, d) - getattr(second, d)) for d in SCALES}
            wide = [d for d, g in gaps.items() if g >= DISAGREEMENT_GAP]
            if first.purchase != second.purchase:
                wide.append("purchase")
            if wide:
                # the adjudication form starts from the pair's mean, rounded half up
                suggested = {d: int((getattr(first, d) + getattr(second, d)) / 2 + 0.5) for d in SCALES}
                rows.append(
                    {"item": first.item, "first": first, "second": second, "dims": wide, "suggested": suggested}
                )
    rows.sort(key=lambda r: r["item"].position)
    return rows


def final_scores(item: AnnotationItem, annotations: list[Annotation]) -> dict | None:
    """The adjudicated scores, else the mean of the annotators' (purchase: the majority, ties yes)."""
    if item.adjudicated:
        return dict(item.adjudicated)
    if not annotations:
        return None
    out = {d: mean(getattr(a, d) for a in annotations) for d in SCALES}
    out["purchase"] = sum(a.purchase for a in annotations) * 2 >= len(annotations)
    out["flags"] = sorted({f for a in annotations for f in a.flags})
    out["comment"] = " | ".join(a.comment for a in annotations if a.comment)
    return out


def batch_items_scored(batch: AnnotationBatch) -> list[dict]:
    by_item: dict[int, list[Annotation]] = defaultdict(list)
    for a in Annotation.objects.filter(item__batch=batch).select_related("annotator").order_by("created_at"):
        by_item[a.item_id].append(a)
    rows = []
    for item in batch.items.select_related("trace").order_by("position"):
        anns = by_item.get(item.pk, [])
        rows.append({"item": item, "annotations": anns, "final": final_scores(item, anns)})
    return rows


def batch_strata(batch: AnnotationBatch) -> list[dict]:
    """Per intent: items, and how many have every annotation they need."""
    open_items = set(batch.tasks.filter(done_at__isnull=True).values_list("item_id", flat=True))
    counts: dict[str, dict] = {}
    for item_id, intent in batch.items.values_list("pk", "intent"):
        row = counts.setdefault(intent, {"intent": intent, "scored": 0, "open": 0})
        row["open" if item_id in open_items else "scored"] += 1
    return sorted(counts.values(), key=lambda r: -(r["scored"] + r["open"]))


def batch_finished(batch: AnnotationBatch) -> bool:
    return batch.status == AnnotationBatch.Status.CLOSED or not batch.tasks.filter(done_at__isnull=True).exists()


# ------------------------------------------------------------------------------------- flywheel
def flywheel_candidates(batch: AnnotationBatch) -> dict[str, list[dict]]:
    """Low-scored or flagged items (golden dataset edge cases) and high-scored, thumbs-up, resolved
    ones (training candidates), not yet sent anywhere."""
    low, high = [], []
    for row in batch_items_scored(batch):
        item, final = row["item"], row["final"]
        if final is None or item.sent_to:
            continue
        worst = min(final[d] for d in SCALES)
        if worst <= LOW_SCORE or set(final.get("flags", [])) & {"unsafe", "wrong_intent"}:
            low.append(row)
        elif (
            worst >= HIGH_SCORE
            and item.thumbs == 1
            and not item.escalated
            and not final.get("flags")
            and not item.trace.error
        ):
            high.append(row)
    return {"golden": low, "training": high}


def session_turns(trace: Trace, *, through: bool = False):
    """The session's turns before this one (and this one too with through=True), oldest first."""
    until = {"started_at__lte" if through else "started_at__lt": trace.started_at}
    return Trace.objects.filter(session_id=trace.session_id, **until).order_by("started_at")


def conversation_questions(trace: Trace) -> list[str]:
    return list(session_turns(trace).values_list("user_text", flat=True)[:10])


# ------------------------------------------------------------------------- trends, calibration
def annotation_frame():
    """One row per scored item (final scores) with its week, intent, release and automated metrics."""
    import pandas as pd

    rows = []
    batches = AnnotationBatch.objects.all()
    for batch in batches:
        for row in batch_items_scored(batch):
            item, final = row["item"], row["final"]
            if final is None:
                continue
            started = item.trace.started_at
            # Who judged this pair: the quality lead who adjudicated it, else its annotators.
            judges = (
                [item.adjudicated_by or "quality lead"]
                if item.adjudicated
                else sorted({a.annotator.username for a in row["annotations"]})
            )
            rows.append(
                {
                    "week": (started - timedelta(days=started.weekday())).date(),
                    "intent": item.intent or "(none)",
                    "release": f"release {item.release}" if item.release else "(none)",
                    **{d: float(final[d]) for d in SCALES},
                    "purchase": 1.0 if final["purchase"] else 0.0,
                    "bertscore": item.bertscore,
                    "guardrail_pass": None if not item.guardrail_verdict else float(item.guardrail_verdict == "pass"),
                    "thumbs": None if item.thumbs is None else float(item.thumbs),
                    "judged_by": ", ".join(judges),
                }
            )
    return pd.DataFrame(rows)


AUTOMATED = {"bertscore": "BERTScore", "guardrail_pass": "Guardrail pass", "thumbs": "Thumbs (+1/−1)"}


def calibration(frame) -> dict:
    """Spearman's rho of each human score with each automated metric on the same responses."""
    out = {}
    for d in [*SCALES, "purchase"]:
        for m in AUTOMATED:
            if frame.empty:
                out[(d, m)] = agreement.Correlation(None, None, 0)
                continue
            sub = frame[[d, m]].dropna()
            out[(d, m)] = agreement.spearman(sub[d].tolist(), sub[m].tolist())
    return out


def threshold_suggestion(frame, *, metric: str = "bertscore", dim: str = "factual", good: float = 4.0) -> dict | None:
    """The ``metric`` threshold that best separates answers annotators judged acceptable (``dim`` >=
    ``good``) from the rest: the cut with the highest balanced accuracy (Youden's J), computed with
    scikit-learn's ``roc_curve``. None without both kinds of answer."""
    from sklearn.metrics import roc_curve

    if frame.empty:
        return None
    sub = frame[[metric, dim]].dropna()
    labels = (sub[dim] >= good).astype(int)
    if labels.nunique() < 2:
        return None
    fpr, tpr, thresholds = roc_curve(labels, sub[metric])
    j = tpr - fpr
    best = int(j.argmax())
    threshold = float(min(thresholds[best], 1.0))
    cells = frame.loc[sub.index, "judged_by"] if "judged_by" in frame else []
    judges = sorted({name for cell in cells for name in str(cell).split(", ") if name})
    return {
        "metric": metric,
        "dim": dim,
        "threshold": round(threshold, 3),
        "balanced_accuracy": round(float((tpr[best] + 1 - fpr[best]) / 2), 3),
        "acceptable": int(labels.sum()),
        "unacceptable": int((1 - labels).sum()),
        "judged_by": judges,
    }


GATE_MIN_PER_CLASS = 10  # human-judged answers of each kind before the page offers to adopt their gate


def bertscore_gate(suggestion: dict | None = None) -> dict:
    """The BERTScore gate in force, what it was fitted on, and whether people's judgement can replace it."""
    dataset = GoldenDataset.objects.filter(name="golden").first()
    in_force = {**scoring.DEFAULT_THRESHOLDS, **(dataset.thresholds if dataset else {})}["bertscore_min"]
    cal = bertscore.calibration()
    adoptable = bool(
        suggestion
        and min(suggestion["acceptable"], suggestion["unacceptable"]) >= GATE_MIN_PER_CLASS
        and round(suggestion["threshold"], 2) != round(in_force, 2)
    )
    return {
        "in_force": in_force,
        "scale": bertscore.scale(),
        "calibrated": cal["gate"],
        "fitted_on": cal["at_gate"],
        "min_per_class": GATE_MIN_PER_CLASS,
        "adoptable": adoptable,
    }


def flywheel_counts() -> list[dict]:
    """Training candidates and golden edge cases added per quarter (US-8.4's flywheel metric)."""
    counts: dict[str, dict] = defaultdict(lambda: {"training": 0, "golden": 0})
    for created in TrainingCandidate.objects.values_list("created_at", flat=True):
        counts[f"{created.year}-Q{(created.month - 1) // 3 + 1}"]["training"] += 1
    for created in GoldenEntry.objects.filter(key__startswith="human-b", revision=1).values_list(
        "created_at", flat=True
    ):
        counts[f"{created.year}-Q{(created.month - 1) // 3 + 1}"]["golden"] += 1
    return [{"quarter": q, **v} for q, v in sorted(counts.items())]
