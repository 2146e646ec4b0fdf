from django.apps import AppConfig

from guardrails import catalog


class ChatConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "chat"

    def ready(self):
        from chat import entities
        from chat.models import Product  # models load only once the app registry is ready

        catalog.source_register(lambda: Product.objects.values_list("asin", "title", "price", "list_price"))
        entities.source_register(lambda: Product.objects.values_list("series", "author").distinct())
