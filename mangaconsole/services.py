from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from mangaconsole.models import WorkerHeartbeat
from mangaconsole.roles import Role


def heartbeat_record(*, worker: str) -> WorkerHeartbeat:
    """Store that ``worker`` is alive now (one row per worker, overwritten)."""
    beat, _ = WorkerHeartbeat.objects.update_or_create(worker=worker, defaults={"beat_at": timezone.now()})
    return beat


DEMO_USERS = {
    "pm": Role.PRODUCT_MANAGER,
    "annotator": Role.ANNOTATOR,
    "annotator2": Role.ANNOTATOR,
    "quality": Role.QUALITY_LEAD,
    "compliance": Role.COMPLIANCE_OFFICER,
    "oncall": Role.ONCALL_ENGINEER,
    "prompt": Role.PROMPT_ENGINEER,
    "mleng": Role.ML_ENGINEER,
    "admin": Role.ADMIN,
}


@transaction.atomic
def demo_users_ensure(*, password: str) -> list[tuple[str, str, bool]]:
    """Create one staff user per role (and make ``admin`` a superuser). Idempotent: existing users
    keep their password. Returns (username, role, created) per user; creations are audited."""
    User = get_user_model()
    rows, created_names = [], []
    for username, role in DEMO_USERS.items():
        user = User.objects.filter(username=username).first()
        created = user is None
        if created:
            user = User.objects.create_user(
                username=username,
                password=password,
                is_staff=True,
                is_superuser=role == Role.ADMIN,
                email=f"{username}@mangaassist.example",
            )
            created_names.append(username)
        user.groups.add(Group.objects.get(name=role))
        rows.append((username, role, created))
    if created_names:
        audit_record(
            actor="system:seed_demo",
            action=AuditAction.DEMO_USERS,
            target_type="auth.user",
            target_id=",".join(created_names),
            after={u: DEMO_USERS[u] for u in created_names},
            reason="Demo accounts, one per role",
        )
    return rows


@transaction.atomic
def login_lockout_record(*, username: str, ip_address: str | None, failures: int) -> None:
    """Audit that ``username`` was locked after ``failures`` wrong passwords (django-axes' lockout)."""
    audit_record(
        actor="system:axes",
        action=AuditAction.LOGIN_LOCKOUT,
        target_type="auth.user",
        target_id=username[:150] or "(blank)",
        after={"locked": True, "failures": failures},
        evidence={"ip_address": ip_address},
        reason=f"{failures} wrong passwords in a row: sign-in locked for the cool-off period",
    )
