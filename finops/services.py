"""Pricing: the cost of tokens for a model id, from the price table."""

from decimal import Decimal

from django.core.cache import cache

from audit.models import AuditAction
from audit.services import audit_record
from finops.models import ModelPrice

_PRICES_KEY = "finops:prices"


def _prices() -> dict[str, tuple[Decimal, Decimal]]:
    prices = cache.get(_PRICES_KEY)
    if prices is None:
        prices = {p.model_id: (p.input_per_1k, p.output_per_1k) for p in ModelPrice.objects.all()}
        cache.set(_PRICES_KEY, prices, 10)
    return prices


def token_cost(*, model_id: str, input_tokens: int, output_tokens: int) -> Decimal:
    """Cost in USD; a model missing from the table costs 0 and is visible as such on the trace."""
    price_in, price_out = _prices().get(model_id, (Decimal(0), Decimal(0)))
    return (price_in * input_tokens + price_out * output_tokens) / Decimal(1000)


def prices_load(*, path, actor) -> int:
    """Create the prices in ``path`` (JSON list) that are missing; existing ones are left as edited."""
    import json
    from decimal import Decimal

    from django.db import transaction

    created = []
    with transaction.atomic():
        for row in json.loads(path.read_text()):
            _, was_created = ModelPrice.objects.get_or_create(
                model_id=row["model_id"],
                defaults={
                    "input_per_1k": Decimal(row["input_per_1k"]),
                    "output_per_1k": Decimal(row["output_per_1k"]),
                    "notes": row.get("notes", ""),
                },
            )
            if was_created:
                created.append(row["model_id"])
        if created:
            audit_record(
                actor=actor,
                action=AuditAction.PRICE_CHANGE,
                target_type="finops.modelprice",
                target_id=",".join(created)[:200],
                after={"created": created},
                reason="Default price table",
            )
    cache.delete(_PRICES_KEY)
    return len(created)
