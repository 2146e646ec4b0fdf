from django.contrib import admin

from audit.admin import AuditedAdminMixin
from chat.models import Article, Product


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
