from django.contrib import admin

from audit.admin import AuditedAdminMixin
from finops.models import ModelPrice


@admin.register(ModelPrice)
class ModelPriceAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Editable by admins and ML engineers; every edit is audited (AuditedAdminMixin)."""

    list_display = ("model_id", "input_per_1k", "output_per_1k", "currency", "notes")
    search_fields = ("model_id",)
