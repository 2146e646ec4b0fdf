from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MangaConsoleConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "mangaconsole"
    verbose_name = "MangaAssist Console"

    def ready(self) -> None:
        from mangaconsole.roles import roles_sync_after_migrate

        # Permissions only exist after post_migrate (Django creates them there), so the role
        # groups are brought in line with mangaconsole.roles.ROLE_PERMISSIONS at the same point.
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="mangaconsole.roles_sync")
