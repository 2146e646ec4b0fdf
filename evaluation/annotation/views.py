"""Pages of the weekly human evaluation: the annotators' queue, the quality lead's batch pages,
trends and calibration."""

from __future__ import annotations

import csv
import json
from datetime import datetime, time, timedelta

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from chat.forms import TraceSearchForm
from chat.selectors import trace_search
from evaluation import agreement
from evaluation.annotation import charts, rubric
from evaluation.annotation import selectors as sel
from evaluation.annotation import services as svc
from evaluation.models import AnnotationBatch, AnnotationItem, AnnotationTask, TrainingCandidate
from mangaconsole.access import console_view
from mangaconsole.lib.getters import get_for_user
from mangaconsole.lib.spreadsheet import SafeWriter

ANNOTATE = "evaluation.annotate"
VIEW = "evaluation.view_annotationbatch"
ADD = "evaluation.add_annotationbatch"
LEAD = "evaluation.lead_annotationbatch"
HOTKEYS = {"factual": "F", "helpful": "H", "tone": "T", "format": "O"}


def _task_page(request, task: AnnotationTask | None, *, errors=None, values=None, status=200):
    ctx = {"task": task, "progress": sel.queue_progress(request.user), "dims": rubric.DIMENSIONS, "flags": rubric.FLAGS}
    if task is not None:
        item = AnnotationItem.objects.select_related("trace").get(pk=task.item_id)
        ctx.update(sel.item_context(item))
        ctx["lock_minutes"] = rubric.lock_minutes()
    values = values or {}
    ctx["errors"] = errors or {}
    ctx["values"] = values
    ctx["dim_rows"] = [
        {
            "key": key,
            "label": dim["label"],
            "hotkey": HOTKEYS[key],
            "choices": [(n, text, str(values.get(key, "")) == str(n)) for n, text in dim["rubric"].items()],
        }
        for key, dim in rubric.DIMENSIONS.items()
    ]
    return render(request, "evaluation/annotate.html", ctx, status=status)


@console_view(permission=ANNOTATE)
def annotate(request):
    """GET: the item this annotator holds, or a fresh claim. POST: submit scores, then the next item."""
    if request.method == "POST":
        try:
            task_id = int(request.POST.get("task", ""))
        except ValueError:
            messages.error(request, "The form lost its item; here is your current one.")
            return redirect("evaluation:annotate")
        try:
            svc.task_submit(request.user, task_id, request.POST)
        except rubric.AnnotationError as exc:
            if exc.errors:  # incomplete scores: show the same item with what was typed
                task = AnnotationTask.objects.filter(pk=task_id, holder=request.user).first()
                values = {k: request.POST.get(k, "") for k in (*rubric.SCALES, "purchase", "comment")}
                values["flags"] = request.POST.getlist("flags")
                return _task_page(request, task, errors=exc.errors, values=values, status=400)
            messages.warning(request, str(exc))
            return redirect("evaluation:annotate")
        done = AnnotationTask.objects.filter(pk=task_id).select_related("item", "batch").first()
        where = f" for item {done.item.position} of “{done.batch.name}”" if done else ""
        messages.success(request, f"Saved your scores{where}.")
        return redirect("evaluation:annotate")
    return _task_page(request, svc.task_next(request.user))


@console_view(permission=ANNOTATE)
@require_POST
def annotate_skip(request, task_id: int):
    try:
        svc.task_skip(request.user, task_id, request.POST.get("reason", ""))
    except rubric.AnnotationError as exc:
        messages.warning(request, str(exc))
        return redirect("evaluation:annotate")
    messages.success(request, "Skipped; you will not get that item again.")
    return redirect("evaluation:annotate")


@console_view(permission=ANNOTATE)
@require_POST
def annotate_renew(request, task_id: int):
    until = svc.task_renew(request.user, task_id)
    if until is None:
        return JsonResponse(
            {"held": False, "error": "This item is no longer yours; reload for the next one."}, status=409
        )
    return JsonResponse({"held": True, "until": until.isoformat()})


# ---------------------------------------------------------------------------------- quality lead
@console_view(permission=VIEW)
@require_GET
def batches(request):
    rows = []
    for batch in AnnotationBatch.objects.all()[:100]:
        total = batch.tasks.count()
        done = batch.tasks.filter(done_at__isnull=False).count()
        rows.append({"batch": batch, "items": batch.items.count(), "total": total, "done": done})
    start, end = sel.week_bounds()
    return render(
        request,
        "evaluation/batches.html",
        {
            "rows": rows,
            "can_add": request.user.has_perm(ADD),
            "week_start": start.date(),
            "size": settings.ANNOTATION_SAMPLE_SIZE,
            "overlap": settings.ANNOTATION_OVERLAP_SHARE,
        },
    )


def _float(value, name, default):
    try:
        return float(value) if value not in (None, "") else default
    except ValueError as exc:
        raise rubric.AnnotationError(f"{name} must be a number (got {value!r}).") from exc


@console_view(permission=ADD)
@require_POST
def batch_new(request):
    """Sample a week by hand (the beat task does it every Monday)."""
    try:
        try:
            day = datetime.strptime(request.POST.get("week_start", ""), "%Y-%m-%d").date()
        except ValueError as exc:
            raise rubric.AnnotationError("the first day must be a date, YYYY-MM-DD.") from exc
        start = timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())
        size = int(_float(request.POST.get("size"), "The size", settings.ANNOTATION_SAMPLE_SIZE))
        share = _float(request.POST.get("overlap_share"), "The overlap share", settings.ANNOTATION_OVERLAP_SHARE)
        days = int(_float(request.POST.get("days"), "The number of days", 7))
        batch = svc.batch_create(
            actor=request.user, start=start, end=start + timedelta(days=days), size=size, overlap_share=share
        )
    except ValueError as exc:  # AnnotationError is a ValueError; so is a bad date
        messages.error(request, f"No batch was created: {exc}")
        return redirect("evaluation:batches")
    messages.success(request, f"Batch “{batch.name}” created with {batch.items.count()} items.")
    return redirect("evaluation:batch", batch.pk)


@console_view(permission=ADD)
@require_POST
def batch_from_traces(request):
    """A batch from the traces page's current search (its filters, up to ``size`` answers)."""
    form = TraceSearchForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"No batch was created: the search is not valid ({form.errors.as_text()}).")
        return redirect("chat:traces")
    filters = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
    start = filters.get("start") or timezone.now() - timedelta(days=7)
    end = filters.get("end") or timezone.now() + timedelta(seconds=1)
    base = trace_search(**{k: v for k, v in filters.items() if k not in ("start", "end")})
    try:
        size = int(_float(request.POST.get("size"), "The size", 50))
        batch = svc.batch_create(
            actor=request.user,
            start=start,
            end=end,
            size=size,
            overlap_share=_float(request.POST.get("overlap_share"), "The overlap share", None),
            source=AnnotationBatch.Source.TRACES,
            base=base,
            filters=json.loads(json.dumps(filters, default=str)),
        )
    except ValueError as exc:
        messages.error(request, f"No batch was created: {exc}")
        return redirect("chat:traces")
    messages.success(request, f"Batch “{batch.name}” created with {batch.items.count()} items from your search.")
    return redirect("evaluation:batch", batch.pk)


@console_view(permission=VIEW)
@require_GET
def batch_detail(request, pk: int):
    batch = get_for_user(request, AnnotationBatch, permission=VIEW, pk=pk)
    total = batch.tasks.count()
    done = batch.tasks.filter(done_at__isnull=False).count()
    finished = sel.batch_finished(batch)
    agreement = sel.batch_agreement(batch)
    return render(
        request,
        "evaluation/batch.html",
        {
            "batch": batch,
            "total": total,
            "done": done,
            "items": batch.items.count(),
            "agreement": agreement,
            "disagreements": sel.batch_disagreements(batch),
            "dims": rubric.DIMENSIONS,
            "finished": finished,
            "flywheel": sel.flywheel_candidates(batch) if finished else None,
            "can_lead": request.user.has_perm(LEAD),
            "can_golden": request.user.has_perm(LEAD) and request.user.has_perm("evaluation.add_datasetversion"),
            "skips": batch.items.filter(receipts__skipped_at__isnull=False).values_list(
                "position", "receipts__skip_reason"
            ),
            "kappa_chart": charts.kappa_bars(agreement),
            "annotators": sel.batch_annotators(batch),
            "strata_chart": charts.strata_progress(sel.batch_strata(batch)),
        },
    )


@console_view(permission=VIEW)
@require_GET
def batch_progress(request, pk: int):
    batch = get_for_user(request, AnnotationBatch, permission=VIEW, pk=pk)
    return JsonResponse(
        {
            "done": batch.tasks.filter(done_at__isnull=False).count(),
            "total": batch.tasks.count(),
            "metrics_done": batch.metrics_done,
            "items": batch.items.count(),
            "metrics_error": batch.metrics_error,
        }
    )


@console_view(permission=VIEW)
@require_GET
def batch_scores(request, pk: int):
    """Every annotation of the batch, one row each, with the item's automated metrics and any
    adjudication: for analysis outside the console."""
    batch = get_for_user(request, AnnotationBatch, permission=VIEW, pk=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="annotation_batch_{batch.pk}.csv"'
    writer = SafeWriter(csv.writer(response))  # annotators' comments never run as formulas (OWASP)
    writer.writerow(
        [
            "item", "trace_id", "intent", "release", "annotator", *rubric.SCALES, "purchase", "flags", "comment",
            "seconds", "bertscore", "guardrail_verdict", "thumbs", "adjudicated", "sent_to",
        ]
    )  # fmt: skip
    for row in sel.batch_items_scored(batch):
        item = row["item"]
        for a in row["annotations"]:
            writer.writerow(
                [
                    item.position, item.trace.trace_id, item.intent, item.release, a.annotator.username,
                    *(getattr(a, d) for d in rubric.SCALES), "yes" if a.purchase else "no", ";".join(a.flags),
                    a.comment, round(a.seconds, 1), item.bertscore, item.guardrail_verdict, item.thumbs,
                    json.dumps(item.adjudicated) if item.adjudicated else "", item.sent_to,
                ]
            )  # fmt: skip
    return response


@console_view(permission=LEAD)
@require_POST
def item_adjudicate(request, pk: int, item_id: int):
    item = get_for_user(request, AnnotationItem, permission=LEAD, pk=item_id, batch_id=pk)
    try:
        svc.item_adjudicate(item=item, data=request.POST, actor=request.user)
    except rubric.AnnotationError as exc:
        messages.error(request, f"Item {item.position} was not adjudicated: {exc}")
    else:
        messages.success(request, f"Item {item.position} adjudicated.")
    return redirect(reverse("evaluation:batch", args=[pk]) + "#disagreements")


@console_view(permission=LEAD)
@require_POST
def batch_close(request, pk: int):
    batch = get_for_user(request, AnnotationBatch, permission=VIEW, pk=pk)
    svc.batch_close(batch=batch, actor=request.user, reason=request.POST.get("reason", ""))
    messages.success(request, "Batch closed; its remaining items leave the queue.")
    return redirect("evaluation:batch", pk)


@console_view(permission=LEAD)
@require_POST
def batch_golden(request, pk: int):
    if not request.user.has_perm("evaluation.add_datasetversion"):
        raise Http404
    batch = get_for_user(request, AnnotationBatch, permission=VIEW, pk=pk)
    references = {}
    for raw in request.POST.getlist("item"):
        if raw.isdigit():
            references[int(raw)] = request.POST.get(f"reference_{raw}", "")
    try:
        version = svc.items_to_golden(batch=batch, references=references, actor=request.user)
    except ValueError as exc:  # AnnotationError or DatasetError
        messages.error(request, str(exc))
        return redirect(reverse("evaluation:batch", args=[pk]) + "#flywheel")
    messages.success(
        request,
        f"{len(version.added)} edge case(s) added: golden dataset version {version.number} "
        f"({version.entry_count} entries).",
    )
    return redirect(reverse("evaluation:batch", args=[pk]) + "#flywheel")


@console_view(permission=LEAD)
@require_POST
def batch_training(request, pk: int):
    batch = get_for_user(request, AnnotationBatch, permission=VIEW, pk=pk)
    ids = [int(x) for x in request.POST.getlist("item") if x.isdigit()]
    try:
        created = svc.items_to_training(batch=batch, item_ids=ids, actor=request.user)
    except rubric.AnnotationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{len(created)} conversation(s) added to the training candidates (PII redacted).")
    return redirect(reverse("evaluation:batch", args=[pk]) + "#flywheel")


@console_view(permission="evaluation.view_trainingcandidate")
@require_GET
def training_export(request):
    """The training candidates as JSON Lines, PII already redacted."""
    lines = [
        json.dumps(
            {
                "trace_id": str(c.trace_id),
                "intent": c.intent,
                "conversation": c.conversation,
                "scores": c.scores,
                "created_at": c.created_at.isoformat(),
            },
            ensure_ascii=False,
        )
        for c in TrainingCandidate.objects.order_by("created_at")
    ]
    response = HttpResponse("\n".join(lines) + ("\n" if lines else ""), content_type="application/x-ndjson")
    response["Content-Disposition"] = 'attachment; filename="training_candidates.jsonl"'
    return response


@console_view(permission="evaluation.change_thresholds")
@require_POST
def gate_adopt(request):
    """Adopt the BERTScore gate re-derived from human annotation (recomputed here, not taken from the form)."""
    try:
        done = svc.gate_from_annotations(actor=request.user)
    except svc.AnnotationError as exc:
        messages.error(request, str(exc))
    else:
        if done["threshold"] == round(done["was"], 2):
            messages.info(request, f"The BERTScore gate is already {done['threshold']:.2f}: nothing changed.")
        else:
            messages.success(
                request, f"BERTScore gate {done['was']:.2f} → {done['threshold']:.2f}; the change is in the audit log."
            )
    return redirect(reverse("evaluation:annotation_trends") + "#gate")


@console_view(permission=VIEW)
@require_GET
def trends(request):
    frame = sel.annotation_frame()
    calibration = sel.calibration(frame)
    suggestion = sel.threshold_suggestion(frame)
    gate = sel.bertscore_gate(suggestion)
    return render(
        request,
        "evaluation/annotation_trends.html",
        {
            "n": len(frame),
            "kappa_trend": charts.kappa_trend(sel.agreement_by_batch(), agreement.KAPPA_TARGET),
            "trend_intent": charts.trend(frame, "intent"),
            "trend_release": charts.trend(frame, "release"),
            "heatmap": charts.calibration_heatmap(calibration, rubric.DIMENSIONS, sel.AUTOMATED),
            "scatter": charts.bertscore_scatter(frame, gate=gate["in_force"], suggestion=suggestion),
            "suggestion": suggestion,
            "gate": gate,
            "calibration": [
                {
                    "dim": d,
                    "metric": m,
                    "label": f"{rubric.DIMENSIONS.get(d, {'label': 'Purchase'})['label']} × {sel.AUTOMATED[m]}",
                    "c": c,
                }
                for (d, m), c in calibration.items()
            ],
            "flywheel": sel.flywheel_counts(),
        },
    )
