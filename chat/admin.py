from django.contrib import admin

from audit.admin import AuditedAdminMixin
from chat.models import Article, ChatSession, Feedback, IngestRun, KnowledgeChunk, KnowledgeDocument, Product, Trace
from mangaconsole.lib.admin import ReadOnlyAdmin


@admin.register(Product)
class ProductAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("asin", "title", "series", "volume", "format", "price", "stock", "release_date")
    list_filter = ("format", "series")
    search_fields = ("asin", "title", "series", "author")


@admin.register(Article)
class ArticleAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("slug", "kind", "title", "source_path")
    list_filter = ("kind",)
    search_fields = ("slug", "title", "body")
    readonly_fields = ("checksum", "source_path")


@admin.register(KnowledgeDocument)
class KnowledgeDocumentAdmin(ReadOnlyAdmin):
    list_display = ("key", "source", "title", "embedder_version", "stale", "updated_at")
    list_filter = ("source", "stale", "embedder_version")
    search_fields = ("key", "title", "path")


@admin.register(KnowledgeChunk)
class KnowledgeChunkAdmin(ReadOnlyAdmin):
    list_display = ("document", "ordinal", "source", "embedder_version", "stale", "created_at")
    list_filter = ("source", "stale", "embedder_version")
    search_fields = ("document__key", "title", "text")
    exclude = ("embedding",)


@admin.register(IngestRun)
class IngestRunAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "status",
        "trigger",
        "started_at",
        "finished_at",
        "documents_processed",
        "documents_unchanged",
        "documents_stale",
        "chunks_created",
        "error_count",
    )
    list_filter = ("status", "trigger")

    @admin.display(description="errors")
    def error_count(self, obj):
        return len(obj.errors)


@admin.register(Trace)
class TraceAdmin(ReadOnlyAdmin):
    list_display = ("trace_id", "started_at", "intent", "release", "latency_ms", "ttft_ms", "cost_usd")
    list_filter = ("intent", "release", "degraded")
    search_fields = ("trace_id", "session_id", "user_text")
    date_hierarchy = "started_at"


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "value", "intent", "release", "trace_id", "comment")
    list_filter = ("value", "intent", "release")
    search_fields = ("trace_id", "session_id", "comment")


@admin.register(ChatSession)
class ChatSessionAdmin(ReadOnlyAdmin):
    list_display = (
        "session_id",
        "user",
        "created_at",
        "last_seen_at",
        "tokens_used",
        "token_budget",
        "budget_exhausted_at",
    )
    search_fields = ("session_id",)
