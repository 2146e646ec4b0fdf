from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from evaluation.models import EvalRun
from evaluation.prompts import prompt_version_approve, prompt_version_evaluate
from mangaconsole.access import console_view
from prompts_app import selectors
from prompts_app.forms import PromptVersionForm, ReasonForm, ReviewForm
from prompts_app.models import PromptStatus
from prompts_app.rendering import TemplateInvalid
from prompts_app.services import (
    PromptError,
    latest_run,
    next_semvers,
    prompt_version_create,
    prompt_version_reject,
    prompt_version_release,
    prompt_version_submit,
)
from registry.rollout.deployments import staging_promote_request
from registry.rollout.selectors import rollback_context
from registry.rollout.targets import DeploymentError


@console_view(permission="prompts_app.view_promptversion")
@require_GET
def index(request):
    # The rollback form is the registry's own (one view, one permission, one audit trail).
    return render(
        request,
        "prompts/index.html",
        {**selectors.prompt_overview(), **rollback_context(), "reason_form": ReasonForm()},
    )


@console_view(permission="prompts_app.view_promptversion")
@require_http_methods(["GET", "POST"])
def template_detail(request, name):
    template = selectors.get_template_for_user(request, name)
    versions = list(template.versions.select_related("reviewer").prefetch_related("eval_runs"))
    latest = versions[0] if versions else None
    can_edit = request.user.has_perm("prompts_app.add_promptversion")
    if request.method == "POST":
        if not can_edit:
            messages.error(request, "You need the prompt engineer role to write a new version.")
            return redirect("prompts:template", name=name)
        form = PromptVersionForm(request.POST)
        if form.is_valid():
            try:
                version = prompt_version_create(template=template, actor=request.user, **form.cleaned_data)
            except TemplateInvalid as exc:
                form.add_error("body", f"Line {exc.line}: {exc.reason}" if exc.line else exc.reason)
            except PromptError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Saved {version.label} as a draft. Submit it for review when ready.")
                return redirect("prompts:version", pk=version.pk)
    else:
        import json

        form = PromptVersionForm(
            initial={"body": latest.body, "few_shot": json.dumps(latest.few_shot, indent=1)} if latest else None
        )
    return render(
        request,
        "prompts/template.html",
        {
            "template": template,
            "versions": versions,
            "form": form,
            "can_edit": can_edit,
            "next": next_semvers(template),
        },
    )


@console_view(permission="prompts_app.view_promptversion")
@require_GET
def version_detail(request, pk):
    version = selectors.get_version_for_user(request, pk)
    others = list(version.template.versions.exclude(pk=version.pk))
    against_id = request.GET.get("against")
    against = next((v for v in others if str(v.pk) == against_id), None) if against_id else version.parent
    user = request.user
    run = latest_run(version)
    return render(
        request,
        "prompts/version.html",
        {
            "version": version,
            "others": others,
            "against": against,
            "diff": selectors.version_diff(against, version),
            "run": run,
            "runs": EvalRun.objects.filter(prompt_version=version).select_related("release")[:10],
            "is_author": version.author_name == user.get_username(),
            "can_review": user.has_perm("prompts_app.review_promptversion"),
            "can_release": user.has_perm("prompts_app.release_promptversion"),
            "review_form": ReviewForm(),
            "Status": PromptStatus,
        },
    )


def _act(request, pk, action, success):
    version = selectors.get_version_for_user(request, pk)
    try:
        action(version)
    except PromptError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, success.format(label=version.label))
    return redirect("prompts:version", pk=version.pk)


@console_view(permission="prompts_app.add_promptversion")
@require_POST
def submit(request, pk):
    return _act(
        request, pk, lambda v: prompt_version_submit(version=v, actor=request.user), "{label} is waiting for review."
    )


@console_view(permission="prompts_app.review_promptversion")
@require_POST
def approve(request, pk):
    comment = request.POST.get("comment", "")
    return _act(
        request,
        pk,
        lambda v: prompt_version_approve(version=v, actor=request.user, comment=comment),
        "{label} approved; its evaluation is running.",
    )


@console_view(permission="prompts_app.review_promptversion")
@require_POST
def reject(request, pk):
    comment = request.POST.get("comment", "")
    return _act(
        request,
        pk,
        lambda v: prompt_version_reject(version=v, actor=request.user, comment=comment),
        "{label} rejected with your comment.",
    )


@console_view(permission="evaluation.run_evalrun")
@require_POST
def evaluate(request, pk):
    return _act(
        request,
        pk,
        lambda v: prompt_version_evaluate(version=v, actor=request.user),
        "A new evaluation of {label} is running.",
    )


@console_view(permission="prompts_app.release_promptversion")
@require_POST
def release(request, pk):
    return _act(request, pk, lambda v: prompt_version_release(version=v, actor=request.user), "{label} is on staging.")


@console_view(permission="prompts_app.promote_promptversion")
@require_POST
def promote(request):
    form = ReasonForm(request.POST)
    try:
        deployment = staging_promote_request(actor=request.user, reason=form.data.get("reason", ""))
    except DeploymentError as exc:
        messages.error(request, f"Not promoted: {exc}")
        return redirect("prompts:index")
    messages.success(
        request,
        f"Release {deployment.release.number} entered the deployment pipeline: after its gate, staging and "
        "smoke test, an ML or on-call engineer other than you approves the promotion.",
    )
    return redirect("registry:deployment", pk=deployment.pk)
