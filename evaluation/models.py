"""The golden dataset (versioned, entries immutable) and offline evaluation runs with per-entry results.

A dataset version is a set of entries plus the SHA-256 of their canonical JSON; an entry is never
edited: a changed entry is a new revision under the same key, and a refresh is a new version that
retires some keys and adds others. Old versions keep their membership, so every past run can be
traced to exactly the entries it scored.
"""

from django.db import models


class Category(models.TextChoices):
    """Strata of seed US-3.1 (share of the 500 in brackets), plus the security team's subset."""

    RECOMMENDATION = "recommendation", "Recommendations (24%)"
    PRODUCT_QUESTION = "product_question", "Product questions (20%)"
    FAQ = "faq", "FAQ (16%)"
    ORDER_TRACKING = "order_tracking", "Order tracking (12%)"
    MULTI_TURN = "multi_turn", "Multi-turn (10%)"
    EDGE_CASE = "edge_case", "Edge cases (8%)"
    RETURNS = "returns", "Returns (6%)"
    CHITCHAT = "chitchat", "Chitchat (4%)"
    ADVERSARIAL = "adversarial", "Adversarial (security team)"


class GoldenDataset(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    thresholds = models.JSONField(default=dict, help_text="Gate thresholds; edits are audited.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [("change_thresholds", "Can edit a golden dataset's gate thresholds")]

    def __str__(self) -> str:
        return self.name


class GoldenEntry(models.Model):
    dataset = models.ForeignKey(GoldenDataset, on_delete=models.PROTECT, related_name="entries")
    key = models.CharField(max_length=60, help_text="Stable id across revisions, e.g. faq-012.")
    revision = models.PositiveIntegerField(default=1)
    category = models.CharField(max_length=30, choices=Category.choices, db_index=True)
    query = models.TextField()
    turns = models.JSONField(default=list, blank=True, help_text="Earlier user messages, for multi-turn entries.")
    expected_intent = models.CharField(max_length=40, blank=True, help_text="Blank: not scored for intent.")
    reference = models.TextField(help_text="A good answer.")
    required = models.JSONField(default=list, blank=True, help_text="Strings the answer must contain.")
    prohibited = models.JSONField(default=list, blank=True, help_text="Strings the answer must not contain.")
    rubric = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    expect_block = models.BooleanField(default=False, help_text="The guardrails should refuse this message.")
    provenance = models.CharField(max_length=300, blank=True, help_text="Where the entry came from.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key", "-revision"]
        verbose_name_plural = "golden entries"
        constraints = [models.UniqueConstraint(fields=["dataset", "key", "revision"], name="unique_entry_revision")]

    def __str__(self) -> str:
        return f"{self.key} r{self.revision}"


class DatasetVersion(models.Model):
    dataset = models.ForeignKey(GoldenDataset, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    entries = models.ManyToManyField(GoldenEntry, related_name="dataset_versions")
    entry_count = models.PositiveIntegerField(default=0)
    added = models.JSONField(default=list, blank=True)
    retired = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset__name", "-number"]
        constraints = [models.UniqueConstraint(fields=["dataset", "number"], name="unique_dataset_version")]

    def __str__(self) -> str:
        return f"{self.dataset.name} v{self.number}"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PASSED = "passed", "Gate passed"
    FAILED = "failed", "Gate failed"
    ERROR = "error", "Error"


class EvalRun(models.Model):
    dataset_version = models.ForeignKey(DatasetVersion, on_delete=models.PROTECT, related_name="runs")
    release = models.ForeignKey("registry.Release", on_delete=models.PROTECT, related_name="eval_runs")
    baseline = models.ForeignKey("registry.Release", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    baseline_run = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    intent = models.CharField(max_length=40, blank=True, help_text="Blank: the whole dataset.")
    prompt_version = models.ForeignKey(
        "prompts_app.PromptVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="eval_runs"
    )
    thresholds = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    stage = models.CharField(max_length=40, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    gates = models.JSONField(default=list, blank=True)
    stage_seconds = models.JSONField(default=dict, blank=True)
    scope_note = models.TextField(blank=True)
    error = models.TextField(blank=True)
    triggered_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("run_evalrun", "Can start an offline evaluation run")]

    def __str__(self) -> str:
        return f"eval run {self.pk}"

    @property
    def finished(self) -> bool:
        return self.status in (RunStatus.PASSED, RunStatus.FAILED, RunStatus.ERROR)

    @property
    def gate_passed(self) -> bool:
        return self.status == RunStatus.PASSED


class EvalResult(models.Model):
    run = models.ForeignKey(EvalRun, on_delete=models.CASCADE, related_name="results")
    entry = models.ForeignKey(GoldenEntry, on_delete=models.PROTECT, related_name="+")
    answer = models.TextField()
    predicted_intent = models.CharField(max_length=40)
    intent_correct = models.BooleanField(null=True)
    bertscore = models.FloatField(null=True)
    rouge_l = models.FloatField(null=True)
    format_ok = models.BooleanField(default=True)
    required_missing = models.JSONField(default=list, blank=True)
    prohibited_found = models.JSONField(default=list, blank=True)
    guardrail_verdict = models.CharField(max_length=20, blank=True)
    guardrail_ok = models.BooleanField(default=True)
    length = models.PositiveIntegerField(default=0)
    latency_ms = models.FloatField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=8, default=0)
    prompt = models.CharField(max_length=120, blank=True, help_text="The prompt versions that produced it.")
    failures = models.JSONField(default=list, blank=True, help_text="Why the entry fails, one line per reason.")

    class Meta:
        ordering = ["run", "entry__key"]
        constraints = [models.UniqueConstraint(fields=["run", "entry"], name="one_result_per_entry")]

    def __str__(self) -> str:
        return f"{self.run} · {self.entry.key}"
