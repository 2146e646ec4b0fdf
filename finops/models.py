from django.db import models


class ModelPrice(models.Model):
    """Price per 1,000 tokens for a model id; every span and turn is priced from this table."""

    model_id = models.CharField(max_length=200, unique=True)
    input_per_1k = models.DecimalField(max_digits=10, decimal_places=6)
    output_per_1k = models.DecimalField(max_digits=10, decimal_places=6)
    currency = models.CharField(max_length=3, default="USD")
    notes = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["model_id"]

    def __str__(self) -> str:
        return f"{self.model_id}: in {self.input_per_1k} / out {self.output_per_1k} per 1k"
