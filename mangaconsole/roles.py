"""Roles are Django groups; this module is the one place that says what each role may do.

``ROLE_PERMISSIONS`` lists model permissions ("app_label.codename") per role. ``roles_sync`` makes
the groups match it exactly after every migrate, and audits any difference it fixes. Permissions
that do not exist yet (an app that has not grown the model) are reported, never invented.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Flow:
    """A link on a role's landing page to something that exists in the console."""

    label: str
    url_name: str
    description: str
    permission: str


# Landing-page links per role. Only flows that exist are listed; later issues add theirs here.
ROLE_FLOWS: dict[str, list[Flow]] = {
    Role.COMPLIANCE_OFFICER: [
        Flow("Traces", "chat:traces", "Any past answer with the versions that produced it.", "chat.view_trace"),
        Flow(
            "Guardrails",
            "guardrails:dashboard",
            "Security review of blocked attempts; mark false positives.",
            "guardrails.view_guardrailevent",
        ),
        Flow(
            "Export an audit report",
            "audit:export",
            "CSV, JSON or a printable report with chain verification.",
            "audit.export_auditentry",
        ),
        Flow(
            "Browse the audit log",
            "admin:audit_auditentry_changelist",
            "Every state change, append-only.",
            "audit.view_auditentry",
        ),
    ],
    Role.ONCALL_ENGINEER: [
        Flow(
            "Traces",
            "chat:traces",
            "Find a turn by trace, session, user, intent or time; see every span.",
            "chat.view_trace",
        ),
        Flow(
            "Production release",
            "registry:production",
            "What serves now, one-click rollback, and every rollback's evaluation and alert.",
            "registry.view_release",
        ),
        Flow("Health", "healthz", "Database, cache, broker and worker heartbeat.", ""),
        Flow(
            "Deployments",
            "registry:deployments",
            "Take a release through build, evaluation gate, staging, smoke test and approval to production.",
            "registry.view_deployment",
        ),
        Flow(
            "Canary",
            "registry:canary",
            "A release on 1% → 10% → 50% → 100% of sessions, with live per-arm metrics and auto-rollback.",
            "registry.view_canary",
        ),
        Flow(
            "Kill switches",
            "registry:flags",
            "Drop the bot to safe templates, or switch retrieval or LLM generation off.",
            "registry.view_flag",
        ),
        Flow(
            "Prompt rollback",
            "prompts:index",
            "Move production back to the previous release in one click.",
            "prompts_app.promote_promptversion",
        ),
        Flow(
            "Guardrails",
            "guardrails:dashboard",
            "Block rates by check; a spike shows here first.",
            "guardrails.view_guardrailevent",
        ),
        Flow(
            "Worker heartbeats",
            "admin:mangaconsole_workerheartbeat_changelist",
            "When each worker last ran the heartbeat.",
            "mangaconsole.view_workerheartbeat",
        ),
        Flow(
            "Schedules",
            "admin:django_celery_beat_periodictask_changelist",
            "Beat-scheduled tasks.",
            "django_celery_beat.view_periodictask",
        ),
        Flow("Audit log", "admin:audit_auditentry_changelist", "Who changed what, and why.", "audit.view_auditentry"),
    ],
    Role.PRODUCT_MANAGER: [
        Flow(
            "Experiments",
            "experiments:index",
            "A/B tests of releases with always-valid statistics; promote the winner in one click.",
            "experiments.view_experiment",
        ),
        Flow("Try the bot", "chat:chat", "The shopper's chat, streamed over a WebSocket.", ""),
        Flow("Traces and feedback", "chat:traces", "What shoppers asked, what the bot answered.", "chat.view_trace"),
        Flow("Catalog", "admin:chat_product_changelist", "The manga catalog the bot sells from.", "chat.view_product"),
    ],
    Role.ANNOTATOR: [
        Flow(
            "Annotation queue",
            "evaluation:annotate",
            "Score the next production answer: keyboard shortcuts for every score.",
            "evaluation.annotate",
        ),
        Flow(
            "Catalog", "admin:chat_product_changelist", "Catalog facts to check answers against.", "chat.view_product"
        ),
        Flow(
            "FAQ and policies",
            "admin:chat_article_changelist",
            "The policy text answers must agree with.",
            "chat.view_article",
        ),
    ],
    Role.QUALITY_LEAD: [
        Flow(
            "Human evaluation batches",
            "evaluation:batches",
            "Weekly samples, progress, Cohen's kappa per dimension, disagreements to adjudicate.",
            "evaluation.view_annotationbatch",
        ),
        Flow(
            "Trends and calibration",
            "evaluation:annotation_trends",
            "Human scores by week, intent and release; Spearman against BERTScore, guardrails and thumbs.",
            "evaluation.view_annotationbatch",
        ),
        Flow("Traces", "chat:traces", "Search production answers; make a batch from a search.", "chat.view_trace"),
        Flow(
            "Evaluation", "evaluation:index", "Golden-dataset runs and the dataset versions.", "evaluation.view_evalrun"
        ),
        Flow("Audit log", "admin:audit_auditentry_changelist", "Change history.", "audit.view_auditentry"),
    ],
    Role.PROMPT_ENGINEER: [
        Flow(
            "Prompts",
            "prompts:index",
            "Edit a template, get it reviewed, evaluated and released.",
            "prompts_app.view_promptversion",
        ),
        Flow("Evaluation", "evaluation:index", "Golden-dataset runs, gates and trends.", "evaluation.view_evalrun"),
        Flow("Traces", "chat:traces", "See what prompts produced, turn by turn.", "chat.view_trace"),
        Flow(
            "Guardrails",
            "guardrails:dashboard",
            "Pass and block rates by check, and what was blocked.",
            "guardrails.view_guardrailevent",
        ),
        Flow(
            "FAQ and policies",
            "admin:chat_article_changelist",
            "The knowledge prompts are grounded in.",
            "chat.view_article",
        ),
        Flow("Audit log", "admin:audit_auditentry_changelist", "Change history.", "audit.view_auditentry"),
    ],
    Role.ML_ENGINEER: [
        Flow(
            "Prompts",
            "prompts:index",
            "Review prompt versions; promote or roll back.",
            "prompts_app.view_promptversion",
        ),
        Flow(
            "Evaluation",
            "evaluation:index",
            "Runs, gates, thresholds and the golden dataset.",
            "evaluation.view_evalrun",
        ),
        Flow(
            "Model registry",
            "admin:registry_componentversion_changelist",
            "Registered versions and their metrics.",
            "registry.view_componentversion",
        ),
        Flow("Releases", "admin:registry_release_changelist", "Releases and what serves.", "registry.view_release"),
        Flow(
            "Deployments",
            "registry:deployments",
            "The pipeline: build, evaluation gate, staging, smoke test, approval, production.",
            "registry.view_deployment",
        ),
        Flow("Canary", "registry:canary", "Stepped canary with live per-arm metrics.", "registry.view_canary"),
        Flow(
            "Human evaluation",
            "evaluation:annotation_trends",
            "Human scores against automated metrics; the flywheel's new examples.",
            "evaluation.view_annotationbatch",
        ),
        Flow("Traces", "chat:traces", "Spans, latency, tokens and cost per turn.", "chat.view_trace"),
        Flow(
            "Guardrails",
            "guardrails:dashboard",
            "Guardrail pass rate, blocks by check, the review log.",
            "guardrails.view_guardrailevent",
        ),
        Flow(
            "Ingest runs",
            "admin:chat_ingestrun_changelist",
            "Knowledge-base refreshes and their errors.",
            "chat.view_ingestrun",
        ),
        Flow(
            "Model prices",
            "admin:finops_modelprice_changelist",
            "Price per 1,000 tokens; edits are audited.",
            "finops.view_modelprice",
        ),
        Flow("Catalog", "admin:chat_product_changelist", "Catalog records.", "chat.view_product"),
        Flow(
            "Schedules",
            "admin:django_celery_beat_periodictask_changelist",
            "Beat-scheduled tasks.",
            "django_celery_beat.view_periodictask",
        ),
    ],
    Role.ADMIN: [
        Flow("Administration", "admin:index", "Users, roles and every model.", ""),
        Flow("Export an audit report", "audit:export", "Compliance exports.", "audit.export_auditentry"),
    ],
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
