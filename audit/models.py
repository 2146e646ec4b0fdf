from django.db import models


class AuditAction(models.TextChoices):
    """Every kind of state change the console records. Later apps add theirs here."""

    ROLE_PERMISSIONS_SYNC = "roles.sync", "Role permissions synced"
    DEMO_USERS = "demo.users", "Demo users created"
    LOGIN_LOCKOUT = "auth.lockout", "Account locked after repeated wrong passwords"
    CATALOG_LOAD = "catalog.load", "Catalog loaded"
    KNOWLEDGE_LOAD = "knowledge.load", "Knowledge documents loaded"
    ADMIN_ADD = "admin.add", "Added in admin"
    ADMIN_CHANGE = "admin.change", "Changed in admin"
    ADMIN_DELETE = "admin.delete", "Deleted in admin"
    AUDIT_EXPORT = "audit.export", "Audit report exported"
    VERSION_REGISTER = "registry.version_register", "Component version registered"
    RELEASE_CREATE = "registry.release_create", "Release created"
    ALIAS_MOVE = "registry.alias_move", "Alias moved"
    KB_INGEST = "chat.kb_ingest", "Knowledge base ingested"
    PRICE_CHANGE = "finops.price_change", "Model price changed"
    GUARDRAIL_REVIEW = "guardrails.review", "Guardrail decision reviewed"
    PROMPT_CREATE = "prompts.create", "Prompt version created"
    PROMPT_SUBMIT = "prompts.submit", "Prompt version submitted for review"
    PROMPT_APPROVE = "prompts.approve", "Prompt version approved"
    PROMPT_REJECT = "prompts.reject", "Prompt version rejected"
    PROMPT_RELEASE = "prompts.release", "Prompt version released to staging"
    PROMPT_PROMOTE = "prompts.promote", "Prompt release promoted to production"
    PROMPT_ROLLBACK = "prompts.rollback", "Prompt release rolled back"
    DATASET_VERSION = "evaluation.dataset_version", "Golden dataset version created"
    THRESHOLDS_CHANGE = "evaluation.thresholds", "Gate thresholds changed"
    EVAL_RUN = "evaluation.run", "Offline evaluation run"
    RELEASE_ROLLBACK = "registry.rollback", "Production rolled back"
    FLAG_CHANGE = "registry.flag", "Kill switch or capability flag toggled"
    DEPLOYMENT = "registry.deployment", "Deployment pipeline stage"
    CANARY = "registry.canary", "Canary started, stepped, promoted or rolled back"
    GUARD = "registry.guard", "Production guard decision"
    EXPERIMENT = "experiments.experiment", "Experiment created, started, paused, stopped or promoted"
    ANNOTATION = "evaluation.annotation", "Human evaluation: batch, annotation, skip, adjudication or dataset send"


class AuditEntry(models.Model):
    """One link of the append-only, hash-chained audit log.

    ``hash`` is SHA-256 over the canonical serialisation of every other field plus ``prev_hash``
    (audit.chain.canonical_bytes), so altering, removing or reordering any entry breaks the chain
    from that point. Database triggers (migration 0002) refuse UPDATE and DELETE on this table.
    Rows are written only by audit.services.audit_record.
    """

    sequence = models.BigIntegerField(primary_key=True, help_text="Gapless, starting at 1.")
    timestamp = models.DateTimeField(db_index=True)
    actor = models.CharField(max_length=200, help_text="Username, or system:<component>.")
    actor_user_id = models.IntegerField(null=True, blank=True, help_text="Kept even if the user is deleted.")
    # A plain string: audit_record validates it against AuditAction, so a new action needs no migration
    # of this append-only table (the admin filter and the exports label it from AuditAction).
    action = models.CharField(max_length=64, db_index=True, help_text="An AuditAction value.")
    target_type = models.CharField(max_length=100, blank=True, db_index=True)
    target_id = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    ticket = models.CharField(max_length=500, blank=True, help_text="Ticket or pull-request link.")
    evidence = models.JSONField(null=True, blank=True, help_text="E.g. the evaluation run that gated it.")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-sequence"]
        verbose_name_plural = "audit entries"
        permissions = [("export_auditentry", "Can export audit reports")]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} {self.target_type}:{self.target_id} by {self.actor}"


class AuditChainHead(models.Model):
    """The newest link of the chain, one row (id=1), locked by every append.

    Appends update it in the same transaction as the insert, so its row lock is what serialises
    writers; if it goes missing (a flushed test database) the next append rebuilds it from the
    newest entry.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    sequence = models.BigIntegerField(default=0)
    prev_hash = models.CharField(max_length=64, default="0" * 64)
    hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"head #{self.sequence} {self.hash[:12]}"
