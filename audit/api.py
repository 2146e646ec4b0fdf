from rest_framework import generics, serializers
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.forms import ExportForm
from audit.models import AuditEntry
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


def _filters(request) -> dict:
    form = ExportForm(request.query_params or ExportForm.initial_range())
    if not form.is_valid():
        raise serializers.ValidationError(form.errors)
    return form.filters()


class SequencePagination(CursorPagination):
    ordering = "sequence"
    page_size = 500


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

    def get(self, request):
        f = _filters(request)
        return Response(audit_chain_verify(start=f["start"], end=f["end"]).as_dict())
