"""The CI gate over HTTP (S16): start an evaluation, poll it, read the verdict and the report.

POST /api/eval/runs/ {"release": number|alias, "baseline"?: number|alias, "intent"?: name} → 201 with
the run and its URL; GET /api/eval/runs/<id>/ → status, gates, metrics, failing entries and the
Markdown report; ``passed`` is true only when every gate passed. A CI job polls until ``finished``.
"""

from django.shortcuts import get_object_or_404
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from evaluation.models import EvalRun
from evaluation.reports import run_json, run_markdown
from evaluation.services import EvalError, eval_run_create
from registry.models import AliasName, Release
from registry.selectors import release_for_alias


def _release(value):
    if value in (None, ""):
        return None
    if str(value) in AliasName.values:
        return release_for_alias(str(value))
    try:
        return Release.objects.filter(number=int(value)).first()
    except (TypeError, ValueError):
        return None


class EvalRunCreate(APIView):
    required_permission = "evaluation.run_evalrun"

    def post(self, request):
        release = _release(request.data.get("release"))
        if release is None:
            return Response(
                {"error": "release must be a release number or one of " + ", ".join(AliasName.values)},
                status=status.HTTP_400_BAD_REQUEST,
            )
        baseline = _release(request.data.get("baseline"))
        if request.data.get("baseline") and baseline is None:
            return Response({"error": "unknown baseline release"}, status=status.HTTP_400_BAD_REQUEST)
        try:
            run = eval_run_create(
                release=release, baseline=baseline, intent=str(request.data.get("intent") or ""), actor=request.user
            )
        except EvalError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        body = run_json(run)
        body["url"] = request.build_absolute_uri(f"/api/eval/runs/{run.pk}/")
        return Response(body, status=status.HTTP_201_CREATED)


class EvalRunDetail(APIView):
    required_permission = "evaluation.view_evalrun"

    def get(self, request, pk: int):
        run = get_object_or_404(EvalRun.objects.select_related("release", "baseline", "dataset_version"), pk=pk)
        body = run_json(run)
        body["finished"] = run.finished
        body["report_markdown"] = run_markdown(run) if run.finished else ""
        return Response(body)
