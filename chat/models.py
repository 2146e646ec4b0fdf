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
