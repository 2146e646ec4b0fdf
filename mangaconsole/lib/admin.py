from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """For rows written by services (audited) or by the bot: the admin shows and searches them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
