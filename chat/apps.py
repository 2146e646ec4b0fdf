from django.apps import AppConfig

from guardrails import catalog


class ChatConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "chat"

    def ready(self):
        from chat import entities
        from chat.embeddings import embed_query
        from chat.models import Product  # models load only once the app registry is ready
        from guardrails.checks import set_embedder

        catalog.source_register(lambda: Product.objects.values_list("asin", "title", "price", "list_price"))
        entities.source_register(lambda: Product.objects.values_list("series", "author").distinct())
        set_embedder(embed_query)  # the vector-reading guardrails (injection, scope) embed through it
