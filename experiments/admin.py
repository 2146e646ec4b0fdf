from django.contrib import admin

from experiments.models import Event, Experiment, Exposure, Variant
from mangaconsole.lib.admin import ReadOnlyAdmin


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 0
    can_delete = False
    fields = ("key", "name", "release", "weight", "is_control")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Experiment)
class ExperimentAdmin(ReadOnlyAdmin):
    list_display = ("name", "status", "primary_metric", "started_at", "stopped_at", "created_by")
    list_filter = ("status",)
    inlines = [VariantInline]


@admin.register(Exposure)
class ExposureAdmin(ReadOnlyAdmin):
    list_display = ("at", "experiment", "variant", "unit_id")
    list_filter = ("experiment",)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("at", "kind", "session_id", "value", "event_id")
    list_filter = ("kind",)
