"""Roles are Django groups; this module is the one place that says what each role may do.

``ROLE_PERMISSIONS`` lists model permissions ("app_label.codename") per role. ``roles_sync`` makes
the groups match it exactly after every migrate, and audits any difference it fixes. Permissions
that do not exist yet (an app that has not grown the model) are reported, never invented.
"""

from __future__ import annotations

import logging

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from audit.models import AuditAction
from audit.services import audit_record


class Role:
    PRODUCT_MANAGER = "product_manager"
    ANNOTATOR = "annotator"
    QUALITY_LEAD = "quality_lead"
    COMPLIANCE_OFFICER = "compliance_officer"
    ONCALL_ENGINEER = "oncall_engineer"
    PROMPT_ENGINEER = "prompt_engineer"
    ML_ENGINEER = "ml_engineer"
    ADMIN = "admin"

    ALL = (
        PRODUCT_MANAGER,
        ANNOTATOR,
        QUALITY_LEAD,
        COMPLIANCE_OFFICER,
        ONCALL_ENGINEER,
        PROMPT_ENGINEER,
        ML_ENGINEER,
        ADMIN,
    )

    LABELS = {
        PRODUCT_MANAGER: "Product manager",
        ANNOTATOR: "Annotator",
        QUALITY_LEAD: "Quality lead",
        COMPLIANCE_OFFICER: "Compliance officer",
        ONCALL_ENGINEER: "On-call engineer",
        PROMPT_ENGINEER: "Prompt engineer",
        ML_ENGINEER: "ML engineer",
        ADMIN: "Administrator",
    }


_CATALOG_READ = ["chat.view_product", "chat.view_article"]
_TRACES_READ = ["chat.view_trace", "chat.view_span", "chat.view_feedback"]
_GUARDRAILS_READ = ["guardrails.view_guardrailevent"]
_GUARDRAILS_REVIEW = [*_GUARDRAILS_READ, "guardrails.review_guardrailevent"]
_REGISTRY_READ = [
    "registry.view_flag",
    "registry.view_component",
    "registry.view_componentversion",
    "registry.view_release",
    "registry.view_releasecomponent",
    "registry.view_alias",
    "registry.view_aliasevent",
    "registry.view_deployment",
    "registry.view_deploymentstage",
    "registry.view_canary",
    "registry.view_monitorevent",
]
_DEPLOY = ["registry.deploy_release", "registry.approve_deployment", "registry.manage_canary"]

_PROMPTS_READ = ["prompts_app.view_prompttemplate", "prompts_app.view_promptversion"]
_EVAL_READ = [
    "evaluation.view_evalrun",
    "evaluation.view_evalresult",
    "evaluation.view_goldendataset",
    "evaluation.view_goldenentry",
    "evaluation.view_datasetversion",
]
_PROMPTS_WRITE = [
    *_PROMPTS_READ,
    *_EVAL_READ,
    "prompts_app.add_promptversion",
    "prompts_app.review_promptversion",
    "prompts_app.release_promptversion",
    "evaluation.run_evalrun",
]

_EXPERIMENTS = [
    "experiments.view_experiment",
    "experiments.add_experiment",
    "experiments.view_variant",
    "experiments.view_exposure",
    "experiments.view_event",
    "experiments.add_event",
    "experiments.run_experiment",
    "experiments.promote_experiment",
]

_HUMAN_EVAL_READ = [
    "evaluation.view_annotationbatch",
    "evaluation.view_annotationitem",
    "evaluation.view_annotation",
    "evaluation.view_trainingcandidate",
]

# What each role's job needs, and no more. The admin role gets every permission (see roles_sync).
ROLE_PERMISSIONS: dict[str, list[str]] = {
    # A PM's winning arm becomes a deployment: they follow it on its page (approval is someone else's).
    Role.PRODUCT_MANAGER: [
        *_CATALOG_READ,
        *_TRACES_READ,
        *_EXPERIMENTS,
        "registry.view_release",
        "registry.view_deployment",
        "registry.view_deploymentstage",
    ],
    Role.ANNOTATOR: [*_CATALOG_READ, "evaluation.annotate"],
    Role.QUALITY_LEAD: [
        "audit.view_auditentry",
        *_CATALOG_READ,
        *_TRACES_READ,
        *_EVAL_READ,
        *_HUMAN_EVAL_READ,
        "evaluation.add_annotationbatch",
        "evaluation.lead_annotationbatch",
        "evaluation.add_datasetversion",
    ],
    Role.COMPLIANCE_OFFICER: [
        "audit.view_auditentry",
        "audit.export_auditentry",
        *_CATALOG_READ,
        *_TRACES_READ,
        *_REGISTRY_READ,
        *_GUARDRAILS_REVIEW,
        *_PROMPTS_READ,
        *_EVAL_READ,
    ],
    Role.ONCALL_ENGINEER: [
        "audit.view_auditentry",
        "mangaconsole.view_workerheartbeat",
        # locked-out sign-ins (django-axes): see them, and unlock an account by deleting its attempt
        "axes.view_accessattempt",
        "axes.delete_accessattempt",
        "django_celery_beat.view_periodictask",
        "django_celery_beat.view_intervalschedule",
        "django_celery_beat.view_crontabschedule",
        *_TRACES_READ,
        *_REGISTRY_READ,
        *_GUARDRAILS_READ,
        *_PROMPTS_READ,
        *_EVAL_READ,
        "prompts_app.promote_promptversion",  # rollback is on-call's job
        "registry.rollback_release",
        "registry.toggle_flag",
        *_DEPLOY,
    ],
    Role.PROMPT_ENGINEER: [
        "audit.view_auditentry",
        *_CATALOG_READ,
        *_TRACES_READ,
        *_REGISTRY_READ,
        *_GUARDRAILS_READ,
        *_PROMPTS_WRITE,
    ],
    Role.ML_ENGINEER: [
        "audit.view_auditentry",
        "chat.view_product",
        "chat.change_product",
        "chat.view_article",
        "chat.change_article",
        "django_celery_beat.view_periodictask",
        "chat.view_ingestrun",
        "chat.view_knowledgedocument",
        "finops.view_modelprice",
        "finops.change_modelprice",
        *_TRACES_READ,
        *_REGISTRY_READ,
        *_GUARDRAILS_REVIEW,
        *_PROMPTS_WRITE,
        "prompts_app.promote_promptversion",
        "evaluation.change_thresholds",
        "registry.rollback_release",
        "evaluation.add_datasetversion",
        *_HUMAN_EVAL_READ,
        *_DEPLOY,
    ],
    Role.ADMIN: [],
}


log = logging.getLogger(__name__)


def user_has_role(user, role: str) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name=role).exists()


def user_roles(user) -> list[str]:
    if not user.is_authenticated:
        return []
    if user.is_superuser:
        return list(Role.ALL)
    names = set(user.groups.values_list("name", flat=True))
    return [role for role in Role.ALL if role in names]


def _names(ids: set[int]) -> list[str]:
    rows = Permission.objects.filter(id__in=ids).values_list("content_type__app_label", "codename")
    return sorted(f"{app}.{code}" for app, code in rows)


def _permissions_for(codes: list[str]) -> tuple[set[int], list[str]]:
    ids: set[int] = set()
    missing: list[str] = []
    for code in codes:
        app_label, codename = code.split(".", 1)
        perm_id = (
            Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            .values_list("id", flat=True)
            .first()
        )
        if perm_id is None:
            missing.append(code)
        else:
            ids.add(perm_id)
    return ids, missing


@transaction.atomic
def roles_sync() -> dict[str, dict[str, list[str]]]:
    """Create the role groups and set their permissions to exactly ROLE_PERMISSIONS.

    Returns {role: {"added": [...], "removed": [...]}} for the roles that changed; each change is
    audited in this transaction.
    """
    changes: dict[str, dict[str, list[str]]] = {}
    all_ids = set(Permission.objects.values_list("id", flat=True))
    for role in Role.ALL:
        group, _ = Group.objects.get_or_create(name=role)
        if role == Role.ADMIN:
            wanted = all_ids
        else:
            wanted, missing = _permissions_for(ROLE_PERMISSIONS[role])
            if missing:
                log.warning("role %s: permissions not defined yet: %s", role, ", ".join(missing))
        current = set(group.permissions.values_list("id", flat=True))
        if wanted == current:
            continue
        added, removed = wanted - current, current - wanted
        group.permissions.set(wanted)
        changes[role] = {"added": _names(added), "removed": _names(removed)}
        audit_record(
            actor="system:roles_sync",
            action=AuditAction.ROLE_PERMISSIONS_SYNC,
            target_type="auth.group",
            target_id=role,
            before={"permissions": _names(current)},
            after={"permissions": _names(wanted)},
            reason="Role permissions brought in line with mangaconsole.roles.ROLE_PERMISSIONS",
        )
    return changes


def roles_sync_after_migrate(sender, **kwargs) -> None:
    # post_migrate is sent once per app, and each app's permissions are created on its own turn:
    # run once, on the last app's turn, when every permission exists.
    from django.apps import apps

    if sender.name != list(apps.get_app_configs())[-1].name:
        return
    using = kwargs.get("using", "default")
    if using != "default":
        return
    roles_sync()
