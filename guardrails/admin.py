from django.contrib import admin

from guardrails.models import GuardrailEvent
from mangaconsole.lib.admin import ReadOnlyAdmin


@admin.register(GuardrailEvent)
class GuardrailEventAdmin(ReadOnlyAdmin):
    """Decisions are written by the pipeline; reviews go through the guardrails page (audited)."""

    list_display = ("created_at", "stage", "check_name", "verdict", "latency_ms", "policy_version", "review")
    list_filter = ("stage", "check_name", "verdict", "review", "policy_version")
    search_fields = ("trace_id",)
    date_hierarchy = "created_at"
