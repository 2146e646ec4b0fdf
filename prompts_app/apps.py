from django.apps import AppConfig


class PromptsAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "prompts_app"
