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


class Part(models.TextChoices):
    """The golden dataset's two parts (issue 18): people and tuning commands work on dev; the gate in
    CI and the deployment pipeline reports test, which no tuning command reads."""

    DEV = "dev", "Dev (tune on it)"
    TEST = "test", "Test (frozen: the gate reports it)"


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
    required = models.JSONField(
        default=list, blank=True, help_text='Strings the answer must contain; "A | B" is met by either.'
    )
    prohibited = models.JSONField(default=list, blank=True, help_text="Strings the answer must not contain.")
    rubric = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    expect_block = models.BooleanField(default=False, help_text="The guardrails should refuse this message.")
    provenance = models.CharField(max_length=300, blank=True, help_text="Where the entry came from.")
    split = models.CharField(
        max_length=4,
        choices=Part.choices,
        default=Part.TEST,
        db_index=True,
        help_text="Dev: tune on it. Test: what the gate reports; no tuning command reads it.",
    )
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
    part = models.CharField(
        max_length=4, choices=Part.choices, default=Part.TEST, help_text="Which part of the golden dataset was run."
    )
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


# ------------------------------------------------------------------------------ human evaluation
class AnnotationBatch(models.Model):
    """A set of production responses for human scoring (seed 000 US-3.6): sampled weekly by a beat
    task, stratified by intent, or picked by hand from a trace search."""

    class Source(models.TextChoices):
        WEEKLY = "weekly", "Weekly sample"
        TRACES = "traces", "From a trace search"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    name = models.CharField(max_length=120)
    source = models.CharField(max_length=10, choices=Source.choices)
    period_start = models.DateTimeField(help_text="Traces from this time (inclusive).")
    period_end = models.DateTimeField(help_text="Traces before this time.")
    requested = models.PositiveIntegerField(help_text="How many responses were asked for.")
    overlap_share = models.FloatField(help_text="Share of items scored by two annotators, for agreement.")
    strata = models.JSONField(default=dict, blank=True, help_text="{intent: items sampled}")
    filters = models.JSONField(default=dict, blank=True, help_text="The trace search a hand-made batch came from.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    metrics_done = models.PositiveIntegerField(default=0, help_text="Items whose automated metrics are computed.")
    metrics_error = models.TextField(blank=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "annotation batches"
        permissions = [("lead_annotationbatch", "Can adjudicate a batch and send its items to datasets")]

    def __str__(self) -> str:
        return self.name


class AnnotationItem(models.Model):
    """One production response in a batch, with the automated metrics it is calibrated against."""

    batch = models.ForeignKey(AnnotationBatch, on_delete=models.CASCADE, related_name="items")
    trace = models.ForeignKey("chat.Trace", on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField()
    intent = models.CharField(max_length=40, blank=True, db_index=True)
    release = models.PositiveIntegerField(null=True, blank=True)
    needed = models.PositiveSmallIntegerField(default=1, help_text="2 for overlap items (agreement).")
    bertscore = models.FloatField(null=True, blank=True, help_text="Answer against its retrieved sources.")
    guardrail_verdict = models.CharField(max_length=12, blank=True)
    thumbs = models.SmallIntegerField(null=True, blank=True, help_text="+1 up, -1 down, empty: no feedback.")
    escalated = models.BooleanField(default=False)
    adjudicated = models.JSONField(default=dict, blank=True, help_text="The quality lead's final scores.")
    adjudicated_by = models.CharField(max_length=150, blank=True)
    adjudicated_at = models.DateTimeField(null=True, blank=True)
    sent_to = models.CharField(max_length=120, blank=True, help_text="golden:<key> or training")

    class Meta:
        ordering = ["batch_id", "position"]
        constraints = [models.UniqueConstraint(fields=["batch", "trace"], name="unique_batch_trace")]

    def __str__(self) -> str:
        return f"{self.batch_id}#{self.position}"


class AnnotationTask(models.Model):
    """One annotation an item needs (overlap items have two). The queue hands out tasks: ``holder``
    and ``lock_expires_at`` are the lock, taken with FOR UPDATE SKIP LOCKED."""

    batch = models.ForeignKey(AnnotationBatch, on_delete=models.CASCADE, related_name="tasks")
    item = models.ForeignKey(AnnotationItem, on_delete=models.CASCADE, related_name="tasks")
    slot = models.PositiveSmallIntegerField(default=1)
    holder = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    claimed_at = models.DateTimeField(null=True, blank=True)
    lock_expires_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["batch_id", "item_id", "slot"]
        permissions = [("annotate", "Can take and score items in the annotation queue")]
        constraints = [models.UniqueConstraint(fields=["item", "slot"], name="unique_item_slot")]
        indexes = [
            models.Index(
                fields=["batch", "item", "slot"], condition=models.Q(done_at__isnull=True), name="annotation_task_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.item} slot {self.slot}"


class AnnotationReceipt(models.Model):
    """That ``annotator`` was handed ``item``: the queue never hands it to them again, skipped or not."""

    item = models.ForeignKey(AnnotationItem, on_delete=models.CASCADE, related_name="receipts")
    annotator = models.ForeignKey("auth.User", on_delete=models.PROTECT, related_name="+")
    task = models.ForeignKey(AnnotationTask, on_delete=models.CASCADE, related_name="receipts")
    received_at = models.DateTimeField()
    skipped_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["received_at"]
        constraints = [models.UniqueConstraint(fields=["item", "annotator"], name="one_receipt_per_annotator")]

    def __str__(self) -> str:
        return f"{self.item} → {self.annotator_id}"


class Annotation(models.Model):
    """One annotator's scores for one item (1 to 5 on each scale, rubric in evaluation.annotation.rubric)."""

    task = models.OneToOneField(AnnotationTask, on_delete=models.PROTECT, related_name="annotation")
    item = models.ForeignKey(AnnotationItem, on_delete=models.PROTECT, related_name="annotations")
    annotator = models.ForeignKey("auth.User", on_delete=models.PROTECT, related_name="+")
    factual = models.PositiveSmallIntegerField()
    helpful = models.PositiveSmallIntegerField()
    tone = models.PositiveSmallIntegerField()
    format = models.PositiveSmallIntegerField()
    purchase = models.BooleanField()
    comment = models.TextField(blank=True)
    flags = models.JSONField(default=list, blank=True)
    seconds = models.FloatField(default=0, help_text="From hand-out to submit.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["item_id", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["item", "annotator"], name="one_annotation_per_annotator"),
            *[
                models.CheckConstraint(
                    condition=models.Q(**{f"{d}__gte": 1, f"{d}__lte": 5}), name=f"annotation_{d}_1_to_5"
                )
                for d in ("factual", "helpful", "tone", "format")
            ],
        ]

    def __str__(self) -> str:
        return f"{self.item} by {self.annotator_id}"


class TrainingCandidate(models.Model):
    """A high-scored, thumbs-up, resolved production conversation, PII redacted (seed 000 US-8.4)."""

    item = models.OneToOneField(AnnotationItem, on_delete=models.PROTECT, related_name="training_candidate")
    trace_id = models.UUIDField()
    intent = models.CharField(max_length=40, blank=True)
    conversation = models.JSONField(default=list, help_text="[{role, text}] with PII replaced by <TYPE>.")
    answer = models.TextField()
    scores = models.JSONField(default=dict)
    pii_found = models.JSONField(default=list, blank=True, help_text="Entity types that were redacted.")
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"training candidate {self.trace_id}"
