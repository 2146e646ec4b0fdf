"""Versioned components, immutable releases and the aliases that say what serves.

A release names one version of each component; the bot serves whatever release an alias
(production, staging, canary) points at. Every alias move is an AliasEvent row, so "what served at
time T" and "the previous production" are one query each. Writes go through registry.services.
"""

from django.db import models


class ComponentKind(models.TextChoices):
    INTENT_CLASSIFIER = "intent_classifier", "Intent classifier"
    EMBEDDER = "embedder", "Embedder"
    RERANKER = "reranker", "Reranker"
    GENERATOR = "generator", "Generator"
    PROMPT_BUNDLE = "prompt_bundle", "Prompt bundle"
    GUARDRAIL_POLICY = "guardrail_policy", "Guardrail policy"
    BYPASS_ROUTES = "bypass_routes", "Bypass routes"


class HostingTarget(models.TextChoices):
    LOCAL = "local", "Local (in process)"
    SAGEMAKER = "sagemaker", "Amazon SageMaker"
    BEDROCK = "bedrock", "Amazon Bedrock"
    OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible endpoint"


class Component(models.Model):
    kind = models.CharField(max_length=40, choices=ComponentKind.choices, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["kind"]

    def __str__(self) -> str:
        return self.get_kind_display()


class ComponentVersion(models.Model):
    """One immutable, registered version of a component (only ``status`` ever changes)."""

    class Status(models.TextChoices):
        STAGING = "staging", "Candidate"  # registered, not in production; the `staging` alias is a separate pointer
        PRODUCTION = "production", "Production"
        ARCHIVED = "archived", "Archived"

    component = models.ForeignKey(Component, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    framework = models.CharField(max_length=100, help_text="e.g. scikit-learn 1.7, sentence-transformers 5")
    hosting_target = models.CharField(max_length=30, choices=HostingTarget.choices, default=HostingTarget.LOCAL)
    artifact_uri = models.CharField(max_length=500, blank=True)
    artifact_sha256 = models.CharField(max_length=64, blank=True)
    training_date = models.DateTimeField(null=True, blank=True)
    dataset_hash = models.CharField(max_length=64, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    config = models.JSONField(default=dict, blank=True, help_text="Parameters: model id, temperature, max tokens…")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.STAGING)
    registered_by = models.CharField(max_length=200)
    registered_at = models.DateTimeField(auto_now_add=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["component__kind", "-version"]
        constraints = [models.UniqueConstraint(fields=["component", "version"], name="unique_component_version")]

    def __str__(self) -> str:
        return self.version_id

    @property
    def version_id(self) -> str:
        return f"{self.component.kind}:v{self.version}"


class GateStatus(models.TextChoices):
    NONE = "", "Not evaluated"
    PASSED = "passed", "Gate passed"
    FAILED = "failed", "Gate failed"


class Release(models.Model):
    """An immutable snapshot naming one version per component."""

    number = models.PositiveIntegerField(unique=True)
    versions = models.ManyToManyField(ComponentVersion, through="ReleaseComponent", related_name="releases")
    based_on = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    notes = models.TextField(blank=True)
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    # The verdict of the release's latest finished evaluation gate, written by the evaluation in the
    # transaction that finishes the run (its audit entry carries it). Only ``gate_*`` ever change.
    gate_status = models.CharField(max_length=10, choices=GateStatus.choices, default=GateStatus.NONE, blank=True)
    gate_run_id = models.PositiveIntegerField(null=True, blank=True, help_text="The evaluation run of the verdict")
    gate_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        permissions = [("rollback_release", "Can roll production back to the previous release")]

    def __str__(self) -> str:
        return f"release {self.number}"


class ReleaseComponent(models.Model):
    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="components")
    component = models.ForeignKey(Component, on_delete=models.PROTECT)
    version = models.ForeignKey(ComponentVersion, on_delete=models.PROTECT)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["release", "component"], name="one_version_per_component")]

    def __str__(self) -> str:
        return f"{self.release} · {self.version}"


class AliasName(models.TextChoices):
    PRODUCTION = "production", "Production"
    STAGING = "staging", "Staging"
    CANARY = "canary", "Canary"


class Alias(models.Model):
    name = models.CharField(max_length=20, choices=AliasName.choices, unique=True)
    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="aliases")
    moved_at = models.DateTimeField()
    moved_by = models.CharField(max_length=200)

    class Meta:
        verbose_name_plural = "aliases"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} → {self.release}"


class AliasEvent(models.Model):
    """Append-only history of alias moves."""

    alias = models.CharField(max_length=20, choices=AliasName.choices, db_index=True)
    from_release = models.ForeignKey(Release, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="+")
    actor = models.CharField(max_length=200)
    reason = models.TextField(blank=True)
    at = models.DateTimeField(db_index=True)
    is_rollback = models.BooleanField(default=False, help_text="A rollback, not a forward move.")

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.alias}: {self.from_release} → {self.to_release} at {self.at:%Y-%m-%d %H:%M}"


class Rollback(models.Model):
    """One rollback of ``production`` and its follow-up (US-1.3), as a resumable state machine.

    The alias move and this row are one transaction, so the alias is never half-moved. The follow-up
    (queue the golden evaluation of the restored release, send the alerts, write the result) advances
    one state at a time with a conditional UPDATE; a worker killed between steps leaves a state that
    the next run (the task again, or the ``rollbacks-resume`` beat entry) completes.
    """

    class State(models.IntegerChoices):
        ALIAS_MOVED = 20, "Alias moved"
        EVAL_QUEUED = 30, "Evaluation queued"
        ALERTED = 40, "Alert sent"
        DONE = 50, "Done"

    from_release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="+")
    to_release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="+")
    requested_by = models.CharField(max_length=200)
    reason = models.TextField()
    state = models.PositiveSmallIntegerField(choices=State.choices, default=State.ALIAS_MOVED, db_index=True)
    requested_at = models.DateTimeField()
    eval_run = models.ForeignKey(
        "evaluation.EvalRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    alert_result = models.JSONField(default=dict, blank=True)
    targets_result = models.JSONField(
        default=dict, blank=True, help_text="{target: outcome} of shifting deployment targets (SageMaker) back"
    )
    paused = models.JSONField(
        default=list,
        blank=True,
        help_text="Allocations the rollback paused in its transaction: [{kind: experiment|canary, id, name}]",
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"rollback {self.from_release.number} → {self.to_release.number}"


class FlagName(models.TextChoices):
    """Operational switches (S29). ``KILL_SWITCH`` on drops the bot to safe templates; the others,
    when off, switch one capability off."""

    KILL_SWITCH = "kill_switch", "Global kill switch (safe templates only)"
    RETRIEVAL = "retrieval", "Retrieval (catalog, FAQ and policy search)"
    LLM_GENERATION = "llm_generation", "Generation by the release's model (off: the local responder)"


class Flag(models.Model):
    name = models.CharField(
        max_length=60, unique=True, help_text="A FlagName, or guardrail:<check> (off skips that check)"
    )
    enabled = models.BooleanField()
    updated_by = models.CharField(max_length=200)
    updated_at = models.DateTimeField()
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        permissions = [("toggle_flag", "Can toggle kill switches and capability flags")]

    def __str__(self) -> str:
        return f"{self.name}={'on' if self.enabled else 'off'}"


# ------------------------------------------------------------------------- deployments (US-1.2)
class Deployment(models.Model):
    """One release taken through the pipeline: build → evaluate → staging → smoke → approve → promote.

    Each stage is a DeploymentStage row with its status and log; the Celery chain advances them and a
    failed stage stops it with its reason. ``targets`` lists where the release is deployed (``local``
    always; ``sagemaker:<endpoint>`` and ``bedrock:<model id>`` when its components say so)."""

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        WAITING = "waiting_approval", "Waiting for approval"
        PROMOTED = "promoted", "Promoted"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="deployments")
    state = models.CharField(max_length=20, choices=State.choices, default=State.RUNNING, db_index=True)
    targets = models.JSONField(default=list, blank=True)
    requested_by = models.CharField(max_length=200)
    requested_at = models.DateTimeField()
    approved_by = models.CharField(max_length=200, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    failure = models.TextField(blank=True)
    eval_run = models.ForeignKey(
        "evaluation.EvalRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    origin = models.JSONField(
        default=dict,
        blank=True,
        help_text='What asked for it: {"kind": "manual"|"experiment"|"canary"|"prompt"|"retrain", ...}',
    )

    class Meta:
        ordering = ["-requested_at", "-id"]
        permissions = [
            ("deploy_release", "Can start a deployment of a release through the pipeline"),
            ("approve_deployment", "Can approve the promotion step of a deployment"),
        ]

    def __str__(self) -> str:
        return f"deployment {self.pk} of release {self.release.number}"


class StageName(models.TextChoices):
    BUILD = "build", "Build and register artifacts"
    EVALUATE = "evaluate", "Offline evaluation gate"
    STAGING = "staging", "Deploy to staging"
    SMOKE = "smoke", "Integration smoke test"
    APPROVE = "approve", "Approval"
    PROMOTE = "promote", "Promote to production"


STAGE_ORDER = [s.value for s in StageName]


class DeploymentStage(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting for a person"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Not run"

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=20, choices=StageName.choices)
    order = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    log = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["deployment", "order"]
        constraints = [models.UniqueConstraint(fields=["deployment", "name"], name="one_row_per_stage")]

    def __str__(self) -> str:
        return f"{self.deployment_id}:{self.name}={self.status}"


# ------------------------------------------------------------------------------ canary (US-3.4)
CANARY_STEPS = (1, 10, 50, 100)


class Canary(models.Model):
    """A release serving ``percent`` % of sessions (sticky by session id) beside production."""

    class State(models.TextChoices):
        ACTIVE = "active", "Serving"
        PROMOTED = "promoted", "Promoted to production"
        ROLLED_BACK = "rolled_back", "Rolled back automatically"
        STOPPED = "stopped", "Stopped by a person"

    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="+")
    baseline = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="+")
    percent = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(max_length=12, choices=State.choices, default=State.ACTIVE, db_index=True)
    started_by = models.CharField(max_length=200)
    started_at = models.DateTimeField()
    steps = models.JSONField(default=list, blank=True, help_text="[{percent, by, at}] each approved step")
    finished_at = models.DateTimeField(null=True, blank=True)
    decision = models.JSONField(default=dict, blank=True, help_text="The last check: per-arm counts, rates, tests")

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name_plural = "canaries"
        permissions = [("manage_canary", "Can start, step up, promote and stop a canary")]
        constraints = [
            models.UniqueConstraint(fields=["state"], condition=models.Q(state="active"), name="one_active_canary")
        ]

    def __str__(self) -> str:
        return f"canary of release {self.release.number} at {self.percent}%"


class MonitorEvent(models.Model):
    """A decision of the canary check or the production guard (US-3.4, US-3.5), with its evidence."""

    class Kind(models.TextChoices):
        CANARY_ROLLBACK = "canary_rollback", "Canary rolled back"
        GUARD_ROLLBACK = "guard_rollback", "Production rolled back by the guard"
        GUARD_PAGE = "guard_page", "On-call paged (soft threshold)"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(db_index=True)
    summary = models.TextField()
    evidence = models.JSONField(default=dict)
    alert_result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} release {self.release.number}"
