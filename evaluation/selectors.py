from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from evaluation.models import EvalRun


def get_run_for_user(request, pk: int) -> EvalRun:
    if not request.user.has_perm("evaluation.view_evalrun"):
        raise PermissionDenied
    if not 0 < pk < 2**63:  # the URL takes any digits; the database's bigint does not
        raise Http404("No such evaluation run.")
    return get_object_or_404(
        EvalRun.objects.select_related("release", "baseline", "dataset_version__dataset", "prompt_version__template"),
        pk=pk,
    )


def runs_recent(limit: int = 30) -> list[EvalRun]:
    return list(EvalRun.objects.select_related("release", "baseline", "prompt_version__template")[:limit])


def run_progress(run: EvalRun) -> dict:
    return {
        "run": run.pk,
        "status": run.status,
        "status_label": run.get_status_display(),
        "stage": run.stage,
        "done": run.done,
        "total": run.total,
        "finished": run.finished,
    }


def release_uses_local_responder(release) -> bool:
    """True when the release's generator is the local grounded responder (not an LLM)."""
    generator = release.components.filter(component__kind="generator").select_related("version").first()
    return generator is None or generator.version.config.get("provider", "local") == "local"
