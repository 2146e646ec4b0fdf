from django.db import models


class Product(models.Model):
    """One catalog item the bot can recommend and quote a price for. Loaded from chat/data/catalog.json."""

    class Format(models.TextChoices):
        PAPERBACK = "paperback", "Paperback"
        HARDCOVER = "hardcover", "Hardcover"
        DELUXE = "deluxe", "Deluxe edition"
        BOX_SET = "box_set", "Box set"
        KINDLE = "kindle", "Kindle"

    asin = models.CharField("ASIN", max_length=10, unique=True)
    title = models.CharField(max_length=300)
    series = models.CharField(max_length=200, db_index=True)
    volume = models.PositiveIntegerField(null=True, blank=True)
    author = models.CharField(max_length=200)
    format = models.CharField(max_length=20, choices=Format.choices)
    price = models.DecimalField(max_digits=8, decimal_places=2)
    list_price = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True, help_text="Set when the item is on sale."
    )
    stock = models.PositiveIntegerField()
    release_date = models.DateField()
    genres = models.JSONField(default=list, blank=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["series", "volume", "asin"]

    def __str__(self) -> str:
        return f"{self.title} ({self.asin})"


class Article(models.Model):
    """An FAQ article or a policy document. Loaded from chat/data/knowledge/<kind>/<slug>.md."""

    class Kind(models.TextChoices):
        FAQ = "faq", "FAQ"
        POLICY = "policy", "Policy"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    slug = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=300)
    body = models.TextField()
    source_path = models.CharField(max_length=300)
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the source file.")

    class Meta:
        ordering = ["kind", "slug"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"


class KnowledgeSource(models.TextChoices):
    CATALOG = "catalog", "Catalog"
    FAQ = "faq", "FAQ"
    POLICY = "policy", "Policy"


class KnowledgeDocument(models.Model):
    """One source document of the knowledge base: a catalog product, an FAQ or a policy file."""

    key = models.CharField(max_length=120, unique=True, help_text="catalog:<asin>, faq:<slug> or policy:<slug>")
    source = models.CharField(max_length=10, choices=KnowledgeSource.choices, db_index=True)
    path = models.CharField(max_length=300, help_text="The source file, relative to the data folder.")
    title = models.CharField(max_length=300)
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the document's text.")
    embedder_version = models.CharField(max_length=60)
    stale = models.BooleanField(default=False, help_text="Its source is gone; kept for lineage, not retrieved.")
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key


class KnowledgeChunk(models.Model):
    document = models.ForeignKey(KnowledgeDocument, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    source = models.CharField(max_length=10, choices=KnowledgeSource.choices)
    title = models.CharField(max_length=300)
    text = models.TextField()
    embedding = models.BinaryField(help_text="float32 vector, L2-normalised")
    embedder_version = models.CharField(max_length=60, db_index=True)
    stale = models.BooleanField(default=False, db_index=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["document_id", "ordinal"]
        constraints = [models.UniqueConstraint(fields=["document", "ordinal"], name="unique_chunk_ordinal")]

    def __str__(self) -> str:
        return f"{self.document.key}#{self.ordinal}"


class IngestRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FINISHED_WITH_ERRORS = "finished_with_errors", "Finished with errors"
        FAILED = "failed", "Failed"

    sources = models.JSONField(default=list)
    trigger = models.CharField(max_length=40, default="command")
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    chunk_size = models.PositiveIntegerField()
    chunk_overlap = models.PositiveIntegerField()
    embedder_version = models.CharField(max_length=60)
    documents_processed = models.PositiveIntegerField(default=0)
    documents_unchanged = models.PositiveIntegerField(default=0)
    documents_stale = models.PositiveIntegerField(default=0)
    chunks_created = models.PositiveIntegerField(default=0)
    embeddings_generated = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{path, reason}] per file or record")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"ingest {self.pk} {self.status}"


class ChatSession(models.Model):
    session_id = models.UUIDField(unique=True)
    user = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    tokens_used = models.PositiveIntegerField(default=0)
    token_budget = models.PositiveIntegerField()
    budget_exhausted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return str(self.session_id)


class ChatMessage(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="messages")
    message_id = models.UUIDField(unique=True)
    client_msg_id = models.CharField(max_length=100, blank=True)
    role = models.CharField(max_length=10, choices=Role.choices)
    text = models.TextField()
    trace_id = models.UUIDField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.role}: {self.text[:60]}"


class Trace(models.Model):
    """One chat turn: what came in, what went out, and the versions that produced it."""

    trace_id = models.UUIDField(unique=True)
    session_id = models.UUIDField(db_index=True)
    message_id = models.UUIDField(null=True, blank=True)
    user_id = models.IntegerField(null=True, blank=True, db_index=True)
    intent = models.CharField(max_length=40, blank=True, db_index=True)
    release = models.PositiveIntegerField(null=True, blank=True)
    versions = models.JSONField(default=dict, help_text="{component kind: version id}")
    user_text = models.TextField()
    answer = models.TextField(blank=True)
    citations = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(db_index=True)
    latency_ms = models.FloatField(default=0)
    ttft_ms = models.FloatField(null=True, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    degraded = models.BooleanField(default=False, help_text="Token budget exceeded: shorter context, no retrieval")
    error = models.TextField(blank=True)
    guardrail_verdict = models.CharField(
        max_length=12, blank=True, db_index=True, help_text="pass, modified, regenerated, replaced or blocked"
    )
    guardrail_reason = models.CharField(max_length=200, blank=True, help_text="The checks behind the verdict")

    class Meta:
        ordering = ["-started_at"]
        permissions = [("replay_trace", "Can replay a trace")]

    def __str__(self) -> str:
        return str(self.trace_id)


class Span(models.Model):
    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="spans", to_field="trace_id")
    ordinal = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=40)
    parent = models.CharField(max_length=40, blank=True)
    start_ms = models.FloatField(help_text="Offset from the trace start")
    duration_ms = models.FloatField()
    inputs = models.JSONField(default=dict, blank=True)
    outputs = models.JSONField(default=dict, blank=True)
    component_version = models.CharField(max_length=80, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    ttft_ms = models.FloatField(null=True, blank=True)
    tokens_per_s = models.FloatField(null=True, blank=True)
    stop_reason = models.CharField(max_length=40, blank=True)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["trace_id", "ordinal"]

    def __str__(self) -> str:
        return f"{self.name} {self.duration_ms:.2f} ms"


class Feedback(models.Model):
    class Value(models.TextChoices):
        UP = "up", "Thumbs up"
        DOWN = "down", "Thumbs down"

    session_id = models.UUIDField(db_index=True)
    message_id = models.UUIDField()
    trace_id = models.UUIDField(db_index=True)
    intent = models.CharField(max_length=40, blank=True)
    release = models.PositiveIntegerField(null=True, blank=True)
    value = models.CharField(max_length=4, choices=Value.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["message_id"], name="one_feedback_per_message")]

    def __str__(self) -> str:
        return f"{self.value} on {self.message_id}"
