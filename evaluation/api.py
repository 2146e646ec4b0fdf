"""The CI gate over HTTP (S16): start an evaluation, poll it, read the verdict and the report.

POST /api/eval/runs/ {"release": number|alias, "baseline"?: number|alias, "intent"?: name, "part"?: "test"|"dev"}
→ 201 with
the run and its URL; GET /api/eval/runs/<id>/ → status, gates, metrics, failing entries and the
Markdown report; ``passed`` is true only when every gate passed. A CI job polls until ``finished``.
"""

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from evaluation.models import Part
from evaluation.reports import run_json, run_markdown
from evaluation.selectors import get_run_for_user
from evaluation.services import EvalError, eval_run_create
from registry.models import AliasName, Release
from registry.selectors import release_for_alias


@extend_schema_field({"type": "string", "example": "production", "maxLength": 20})
class ReleaseRefField(serializers.Field):
    """A release by number (``3``) or by alias (``production``, ``staging``, ``canary``)."""

    default_error_messages = {"invalid": "a release number or one of " + ", ".join(AliasName.values)}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid")
        value = str(data).strip()
        if value in AliasName.values:
            release = release_for_alias(value)
            if release is None:
                raise serializers.ValidationError(f"the {value} alias points at no release yet")
            return release
        if not value.isdigit() or len(value) > 9:
            self.fail("invalid")
        release = Release.objects.filter(number=int(value)).first()
        if release is None:
            raise serializers.ValidationError(f"there is no release {value}")
        return release

    def to_representation(self, value):
        return value.number


class EvalRunRequestSerializer(serializers.Serializer):
    release = ReleaseRefField()
    baseline = ReleaseRefField(required=False, allow_null=True)
    intent = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    part = serializers.ChoiceField(choices=Part.values, required=False, default=Part.TEST)


class EvalRunSerializer(serializers.Serializer):
    """What ``evaluation.reports.run_json`` returns, plus the detail view's additions."""

    run = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["queued", "running", "passed", "failed", "error"])
    passed = serializers.BooleanField()
    release = serializers.IntegerField()
    baseline = serializers.IntegerField(allow_null=True)
    dataset = serializers.JSONField()
    scope = serializers.CharField()
    part = serializers.ChoiceField(choices=Part.values)
    progress = serializers.JSONField()
    gates = serializers.JSONField()
    metrics = serializers.JSONField()
    by_category = serializers.JSONField()
    stage_seconds = serializers.JSONField()
    failing_entries = serializers.JSONField()
    error = serializers.CharField(allow_blank=True)
    url = serializers.URLField(required=False)
    finished = serializers.BooleanField(required=False)
    report_markdown = serializers.CharField(required=False, allow_blank=True)


class EvalRunCreate(APIView):
    required_permission = "evaluation.run_evalrun"

    @extend_schema(request=EvalRunRequestSerializer, responses={201: EvalRunSerializer})
    def post(self, request):
        params = EvalRunRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        try:
            run = eval_run_create(
                release=data["release"],
                baseline=data.get("baseline"),
                intent=data["intent"],
                part=data["part"],
                actor=request.user,
            )
        except EvalError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        body = run_json(run)
        body["url"] = request.build_absolute_uri(f"/api/eval/runs/{run.pk}/")
        return Response(body, status=status.HTTP_201_CREATED)


class EvalRunDetail(APIView):
    required_permission = "evaluation.view_evalrun"

    @extend_schema(responses=EvalRunSerializer)
    def get(self, request, pk: int):
        run = get_run_for_user(request, pk)
        body = run_json(run)
        body["finished"] = run.finished
        body["report_markdown"] = run_markdown(run) if run.finished else ""
        return Response(body)
