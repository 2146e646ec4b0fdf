from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.forms import MAX_RANGE, ExportForm
from audit.models import AuditAction, AuditEntry
from audit.selectors import audit_chain_verify, audit_entries_filtered


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = [
            "sequence",
            "timestamp",
            "actor",
            "actor_user_id",
            "action",
            "target_type",
            "target_id",
            "before",
            "after",
            "reason",
            "ticket",
            "evidence",
            "prev_hash",
            "hash",
        ]


class AuditRangeSerializer(serializers.Serializer):
    """The slice of the log: a time range (default: the last 30 days) and optional filters, with the
    export form's rules (end after start, at most ten years)."""

    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    target_type = serializers.CharField(required=False, allow_blank=True, max_length=100)
    actor = serializers.CharField(required=False, allow_blank=True, max_length=200)
    action = serializers.ChoiceField(choices=[("", "Any action"), *AuditAction.choices], required=False)

    def validate(self, attrs):
        initial = ExportForm.initial_range()
        start, end = attrs.get("start", initial["start"]), attrs.get("end", initial["end"])
        if end <= start:
            raise serializers.ValidationError("The end of the range must be after its start.")
        if end - start > MAX_RANGE:
            raise serializers.ValidationError("A range can cover at most ten years.")
        return {
            "start": start,
            "end": end,
            "target_type": attrs.get("target_type") or "",
            "actor": attrs.get("actor") or "",
            "action": attrs.get("action") or "",
        }


class ChainBreakSerializer(serializers.Serializer):
    sequence = serializers.IntegerField()
    problem = serializers.CharField()


class ChainVerificationSerializer(serializers.Serializer):
    intact = serializers.BooleanField()
    checked = serializers.IntegerField()
    first_sequence = serializers.IntegerField(allow_null=True)
    last_sequence = serializers.IntegerField(allow_null=True)
    first_break = ChainBreakSerializer(allow_null=True)
    breaks_found = serializers.IntegerField()


def _filters(request) -> dict:
    params = AuditRangeSerializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data


class SequencePagination(CursorPagination):
    ordering = "sequence"
    page_size = 500


@extend_schema(parameters=[AuditRangeSerializer])
class AuditEntryList(generics.ListAPIView):
    """GET /api/audit/entries/?start=…&end=…[&target_type&actor&action]: the log, oldest first, paged."""

    required_permission = "audit.view_auditentry"
    serializer_class = AuditEntrySerializer
    pagination_class = SequencePagination

    def get_queryset(self):
        return audit_entries_filtered(**_filters(self.request))


class AuditChainVerify(APIView):
    """GET /api/audit/verify/?start=…&end=…: the chain verification of that range."""

    required_permission = "audit.view_auditentry"

    @extend_schema(parameters=[AuditRangeSerializer], responses=ChainVerificationSerializer)
    def get(self, request):
        f = _filters(request)
        return Response(ChainVerificationSerializer(audit_chain_verify(start=f["start"], end=f["end"]).as_dict()).data)
