from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.forms.models import model_to_dict

from audit.models import AuditAction, AuditEntry
from audit.services import audit_record


def _snapshot(obj) -> dict:
    data = model_to_dict(obj)
    data.pop("password", None)  # never copy a password hash into the log
    return {k: (list(v.values_list("pk", flat=True)) if hasattr(v, "values_list") else v) for k, v in data.items()}


class AuditedAdminMixin:
    """Writes an audit entry for every add, change and delete made through the admin.

    Django's admin calls log_addition / log_change / log_deletions inside the same atomic block
    as the save or delete, so the audit entry commits or rolls back with the change.
    """

    def _target(self, obj) -> tuple[str, str]:
        return obj._meta.label_lower, str(obj.pk)

    def log_addition(self, request, obj, message):
        target_type, target_id = self._target(obj)
        audit_record(
            actor=request.user,
            action=AuditAction.ADMIN_ADD,
            target_type=target_type,
            target_id=target_id,
            after=_snapshot(obj),
            reason="Added in the admin",
        )
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        target_type, target_id = self._target(obj)
        audit_record(
            actor=request.user,
            action=AuditAction.ADMIN_CHANGE,
            target_type=target_type,
            target_id=target_id,
            after=_snapshot(obj),
            evidence={"admin_message": message},
            reason="Changed in the admin",
        )
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            target_type, target_id = self._target(obj)
            audit_record(
                actor=request.user,
                action=AuditAction.ADMIN_DELETE,
                target_type=target_type,
                target_id=target_id,
                before=_snapshot(obj),
                reason="Deleted in the admin",
            )
        return super().log_deletions(request, queryset)


class ActionFilter(admin.SimpleListFilter):
    """The action column is a plain string (no choices, so new actions need no migration): the filter
    offers every known action by its label."""

    title = "action"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return AuditAction.choices

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the table refuses UPDATE and DELETE anyway; the admin does not offer them."""

    list_display = ("sequence", "timestamp", "actor", "action_label", "target_type", "target_id", "short_hash")
    list_filter = (ActionFilter, "target_type")
    search_fields = ("actor", "target_type", "target_id", "reason", "ticket", "hash")
    date_hierarchy = "timestamp"
    readonly_fields = [f.name for f in AuditEntry._meta.fields]
    show_full_result_count = False

    @admin.display(description="action", ordering="action")
    def action_label(self, obj):
        try:
            return AuditAction(obj.action).label
        except ValueError:  # an action a later release removed: show what was recorded
            return obj.action

    @admin.display(description="hash")
    def short_hash(self, obj):
        return obj.hash[:12]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class AuditedUserAdmin(AuditedAdminMixin, UserAdmin):
    pass


@admin.register(Group)
class AuditedGroupAdmin(AuditedAdminMixin, GroupAdmin):
    pass
