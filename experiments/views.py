"""The product manager's pages: list, create, and the live results page with its actions."""

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from experiments.analysis import analyse, timeline
from experiments.forms import EXTRA_ARMS, ExperimentForm
from experiments.models import Experiment, Metric
from experiments.services import (
    ExperimentError,
    experiment_create,
    experiment_pause,
    experiment_start,
    experiment_stop,
    validate,
)
from mangaconsole.access import console_view
from mangaconsole.lib.getters import get_for_user
from registry.models import Deployment, GateStatus, Release
from registry.rollout.deployments import experiment_winner_promote
from registry.rollout.targets import DeploymentError
from registry.selectors import release_for_alias


def get_experiment_for_user(request, pk, *, prefetch: bool = False) -> Experiment:
    source = Experiment.objects.prefetch_related("variants__release") if prefetch else Experiment.objects.all()
    return get_for_user(request, source, permission="experiments.view_experiment", pk=pk)


@console_view(permission="experiments.view_experiment")
@require_GET
def index(request):
    return render(
        request,
        "experiments/index.html",
        {"experiments": Experiment.objects.prefetch_related("variants__release")[:100]},
    )


@console_view(permission="experiments.add_experiment")
@require_http_methods(["GET", "POST"])
def create(request):
    production = release_for_alias("production")
    # Arms serve real shoppers: only releases whose evaluation gate passed (registry.services.release_eligibility).
    releases = (
        Release.objects.filter(gate_status=GateStatus.PASSED)
        .exclude(pk=production.pk if production else None)
        .order_by("-number")[:50]
    )
    # Bound on every POST, an empty one too, so an empty submit lists what is missing rather than failing.
    form = ExperimentForm(request.POST if request.method == "POST" else None, releases=releases)
    problems = []
    if request.method == "POST":
        form_ok = form.is_valid()
        data = form.cleaned_data
        fields = _experiment_fields(data, production, {r.number: r for r in releases})
        if not form_ok:
            # Every problem at once: the form's own (a missing name, a weight that is not a number) and
            # the experiment's rules on whatever the form could read (weights that do not add up).
            problems = [
                f"{form.fields[f].label or f.replace('_', ' ').capitalize()}: {m}"
                for f, ms in form.errors.items()
                if f != "__all__"
                for m in ms
            ]
            problems += list(form.non_field_errors())
            known = {**fields, "name": data.get("name") or "-", "hypothesis": data.get("hypothesis") or "-"}
            problems += [p for p in validate(**known) if p not in problems]
        else:
            try:
                experiment = experiment_create(actor=request.user, **fields)
            except ExperimentError as exc:
                problems = exc.problems
            else:
                messages.success(request, f"Experiment {experiment.name!r} saved as a draft: review it, then start it.")
                return redirect("experiments:detail", pk=experiment.pk)
    return render(
        request,
        "experiments/create.html",
        {"form": form, "problems": problems, "production": production, "eligible": len(releases)},
    )


def _experiment_fields(data: dict, production, by_number: dict) -> dict:
    """The experiment_create arguments from a (possibly partly invalid) form's cleaned data."""
    arms = [
        {"key": "control", "name": "Control (production)", "release": production, "weight": data.get("control_weight")}
    ]
    for i in range(1, EXTRA_ARMS + 1):
        number = data.get(f"arm{i}_release")
        if number is None:
            continue
        arms.append(
            {
                "key": f"arm{i}",
                "name": f"Arm {i} (release {number})",
                "release": by_number.get(number),
                "weight": data.get(f"arm{i}_weight"),
            }
        )
    return {
        "name": data.get("name", ""),
        "hypothesis": data.get("hypothesis", ""),
        "arms": arms,
        "enrolled_percent": data.get("enrolled_percent") or 100,
        "targeting": {
            "user_types": data.get("user_types") or [],
            "regions": [r.strip().upper() for r in (data.get("regions") or "").split(",") if r.strip()],
        },
        "primary_metric": data.get("primary_metric") or Metric.THUMBS_UP,
        "guardrail_metrics": data.get("guardrail_metrics") or [],
        "alpha": data.get("alpha") or 0.05,
        "planned_days": data.get("planned_days") or 14,
    }


def _results(experiment: Experiment) -> dict:
    live = experiment.status == Experiment.Status.RUNNING or not experiment.decision
    result = analyse(experiment) if live else experiment.decision
    return {
        "status": experiment.status,
        "status_label": experiment.get_status_display(),
        "stop_reason": experiment.stop_reason,
        "result": result,
        "timeline": timeline(experiment),
        "labels": dict(Metric.choices),
    }


@console_view(permission="experiments.view_experiment")
@require_GET
def detail(request, pk):
    experiment = get_experiment_for_user(request, pk, prefetch=True)
    deployment_id = (experiment.archive or {}).get("deployment")
    return render(
        request,
        "experiments/detail.html",
        {
            "e": experiment,
            "data": _results(experiment),
            "variants": list(experiment.variants.all()),
            "deployment": Deployment.objects.filter(pk=deployment_id).first() if deployment_id else None,
        },
    )


@console_view(permission="experiments.view_experiment")
@require_GET
def results(request, pk):
    return JsonResponse(_results(get_experiment_for_user(request, pk)))


@console_view(permission="experiments.run_experiment")
@require_POST
def action(request, pk):
    experiment = get_experiment_for_user(request, pk)
    what = request.POST.get("action")
    try:
        if what == "start":
            experiment_start(experiment=experiment, actor=request.user)
            messages.success(request, "Running: new sessions are assigned now.")
        elif what == "pause":
            experiment_pause(experiment=experiment, actor=request.user)
            messages.success(request, "Paused: every session is served by production.")
        elif what == "stop":
            experiment_stop(
                experiment=experiment,
                actor=request.user,
                reason=request.POST.get("reason", ""),
                decision=analyse(experiment),
            )
            messages.success(request, "Stopped.")
        elif what == "promote":
            if not request.user.has_perm("experiments.promote_experiment"):
                raise ExperimentError("you may not promote experiments")
            variant = get_for_user(
                request,
                experiment.variants.all(),
                permission="experiments.promote_experiment",
                pk=request.POST.get("variant"),
            )
            deployment = experiment_winner_promote(experiment=experiment, variant=variant, actor=request.user)
            if deployment is None:
                messages.success(request, f"{variant.name} is production already: the experiment is archived.")
            else:
                messages.success(
                    request,
                    f"Release {variant.release.number} ({variant.name}) entered the deployment pipeline as "
                    f"deployment {deployment.pk}: after its gate, staging and smoke test, an ML or on-call "
                    "engineer other than you approves it, then it serves production.",
                )
        else:
            raise ExperimentError(f"unknown action {what!r}")
    except (ExperimentError, DeploymentError) as exc:
        messages.error(request, f"Nothing changed: {exc}")
    return redirect("experiments:detail", pk=pk)
