from django.contrib import admin

from mangaconsole.lib.admin import ReadOnlyAdmin
from registry.models import (
    Alias,
    AliasEvent,
    Canary,
    Component,
    ComponentVersion,
    Deployment,
    DeploymentStage,
    MonitorEvent,
    Release,
    ReleaseComponent,
)


@admin.register(Component)
class ComponentAdmin(ReadOnlyAdmin):
    list_display = ("kind", "description")


@admin.register(ComponentVersion)
class ComponentVersionAdmin(ReadOnlyAdmin):
    list_display = (
        "__str__",
        "framework",
        "hosting_target",
        "status",
        "training_date",
        "registered_by",
        "registered_at",
    )
    list_filter = ("component__kind", "status", "hosting_target")
    search_fields = ("component__kind", "framework", "artifact_uri", "artifact_sha256", "dataset_hash", "notes")
    readonly_fields = [f.name for f in ComponentVersion._meta.fields]


class ReleaseComponentInline(admin.TabularInline):
    model = ReleaseComponent
    fields = ("component", "version")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Release)
class ReleaseAdmin(ReadOnlyAdmin):
    list_display = ("number", "serving_as", "based_on", "created_by", "created_at", "notes")
    search_fields = ("number", "notes", "created_by", "components__version__artifact_sha256")
    inlines = [ReleaseComponentInline]
    readonly_fields = ("number", "based_on", "notes", "created_by", "created_at")

    @admin.display(description="serving as")
    def serving_as(self, obj):
        return ", ".join(a.name for a in obj.aliases.all()) or "—"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("aliases")


@admin.register(Alias)
class AliasAdmin(ReadOnlyAdmin):
    list_display = ("name", "release", "moved_at", "moved_by")


@admin.register(AliasEvent)
class AliasEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "alias", "from_release", "to_release", "actor", "reason")
    list_filter = ("alias",)
    search_fields = ("actor", "reason")
    date_hierarchy = "at"


class DeploymentStageInline(admin.TabularInline):
    model = DeploymentStage
    extra = 0
    can_delete = False
    fields = ("order", "name", "status", "started_at", "finished_at", "log")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ("pk", "release", "state", "requested_by", "requested_at", "approved_by", "failure")
    list_filter = ("state",)
    inlines = [DeploymentStageInline]


@admin.register(Canary)
class CanaryAdmin(ReadOnlyAdmin):
    list_display = ("pk", "release", "baseline", "percent", "state", "started_by", "started_at", "finished_at")
    list_filter = ("state",)


@admin.register(MonitorEvent)
class MonitorEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "kind", "release", "summary")
    list_filter = ("kind",)
