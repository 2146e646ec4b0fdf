from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from evaluation import charts, selectors
from evaluation.forms import NewRunForm, ThresholdsForm
from evaluation.models import RunStatus
from evaluation.reports import run_failing, run_markdown
from evaluation.services import DatasetError, EvalError, dataset_default, dataset_thresholds_update, eval_run_create
from mangaconsole.access import console_view


@console_view(permission="evaluation.view_evalrun")
@require_GET
def index(request):
    dataset = dataset_default()
    runs = selectors.runs_recent()
    finished = [r for r in reversed(runs) if r.status in (RunStatus.PASSED, RunStatus.FAILED)]
    latest_full = next((r for r in runs if r.metrics and not r.intent), None)
    return render(
        request,
        "evaluation/index.html",
        {
            "dataset": dataset,
            "versions": dataset.versions.all()[:10],
            "runs": runs,
            "chart_trend": charts.metric_trends(finished),
            "latest_full": latest_full,
            "chart_categories": charts.per_category(latest_full.metrics) if latest_full else "",
            "thresholds_form": ThresholdsForm(current=dataset.thresholds),
            "run_form": NewRunForm(),
        },
    )


@console_view(permission="evaluation.change_thresholds")
@require_POST
def thresholds(request):
    dataset = dataset_default()
    form = ThresholdsForm(request.POST, current=dataset.thresholds)
    if form.is_valid():
        values = {k: v for k, v in form.cleaned_data.items() if k != "reason"}
        try:
            dataset_thresholds_update(
                dataset=dataset, thresholds=values, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except DatasetError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Gate thresholds saved; the change is in the audit log.")
    else:
        messages.error(
            request, "Thresholds not saved: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        )
    return redirect("evaluation:index")


@console_view(permission="evaluation.run_evalrun")
@require_POST
def run_new(request):
    form = NewRunForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Run not started: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect("evaluation:index")
    try:
        run = eval_run_create(actor=request.user, **form.cleaned_data)
    except EvalError as exc:
        messages.error(request, str(exc))
        return redirect("evaluation:index")
    return redirect("evaluation:run", pk=run.pk)


@console_view(permission="evaluation.view_evalrun")
@require_GET
def run_detail(request, pk):
    run = selectors.get_run_for_user(request, pk)
    return render(
        request,
        "evaluation/run.html",
        {
            "run": run,
            "progress": selectors.run_progress(run),
            "failing": run_failing(run, limit=200) if run.finished else [],
            "chart_categories": charts.per_category(run.metrics) if run.metrics else "",
            "local_responder": selectors.release_uses_local_responder(run.release),
        },
    )


@console_view(permission="evaluation.view_evalrun")
@require_GET
def run_progress(request, pk):
    return JsonResponse(selectors.run_progress(selectors.get_run_for_user(request, pk)))


@console_view(permission="evaluation.view_evalrun")
@require_GET
def run_report(request, pk):
    run = selectors.get_run_for_user(request, pk)
    response = HttpResponse(run_markdown(run), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="eval-run-{run.pk}.md"'
    return response
