"""The landing page of each role: the flows it offers, in order, each with its page and the permission
that page needs (a flow the user may not open is not shown). Texts only; what a role may do is
``mangaconsole.roles``."""

from __future__ import annotations

from dataclasses import dataclass

from mangaconsole.roles import Role


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
