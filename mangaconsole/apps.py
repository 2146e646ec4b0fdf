from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MangaConsoleConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "mangaconsole"
    verbose_name = "MangaAssist Console"

    def ready(self) -> None:
        from mangaconsole.roles import roles_sync_after_migrate  # models load once the registry is ready

        # Permissions only exist after post_migrate (Django creates them there), so the role
        # groups are brought in line with mangaconsole.roles.ROLE_PERMISSIONS at the same point.
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="mangaconsole.roles_sync")
        # django-axes announces a lockout with a signal (its integration point): audit the lockout.
        from axes.signals import user_locked_out

        user_locked_out.connect(_lockout_audited, dispatch_uid="mangaconsole.lockout_audit")


def _lockout_audited(sender, request=None, username="", ip_address=None, **kwargs) -> None:
    from django.conf import settings

    from mangaconsole.services import login_lockout_record  # models load once the registry is ready

    failures = getattr(request, "axes_failures_since_start", None)
    if failures == settings.AXES_FAILURE_LIMIT:  # the moment of locking, not each refused try after it
        login_lockout_record(username=username or "", ip_address=ip_address, failures=failures)
