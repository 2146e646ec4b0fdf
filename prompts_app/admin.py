from django.contrib import admin

from mangaconsole.lib.admin import ReadOnlyAdmin
from prompts_app.models import PromptTemplate, PromptVersion


@admin.register(PromptTemplate)
class PromptTemplateAdmin(ReadOnlyAdmin):
    list_display = ("name", "description")


@admin.register(PromptVersion)
class PromptVersionAdmin(ReadOnlyAdmin):
    """Versions are written by prompts_app.services (audited); the Prompts pages are where they change."""

    list_display = ("template", "semver", "status", "author_name", "reviewer", "created_at", "changelog")
    list_filter = ("status", "template")
    search_fields = ("changelog", "change_description", "author_name")
