"""Loading the demo catalog and knowledge documents from the files in chat/data/."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.db import transaction

from audit.models import AuditAction
from audit.services import audit_record
from chat import entities
from chat.models import Article, Product

_PRODUCT_FIELDS = {
    "asin",
    "title",
    "series",
    "volume",
    "author",
    "format",
    "price",
    "list_price",
    "stock",
    "release_date",
    "genres",
    "description",
}
_REQUIRED = ("asin", "title", "series", "author", "format", "price", "stock", "release_date")


class DataFileError(ValueError):
    """A data file that cannot be loaded; the message names the file and what is wrong."""


@dataclass
class LoadReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)


def _product_from_record(index: int, record: dict) -> dict:
    where = f"record {index} ({record.get('asin', 'no asin')})"
    missing = [k for k in _REQUIRED if record.get(k) in (None, "")]
    if missing:
        raise DataFileError(f"{where}: missing {', '.join(missing)}")
    unknown = set(record) - _PRODUCT_FIELDS
    if unknown:
        raise DataFileError(f"{where}: unknown fields {', '.join(sorted(unknown))}")
    if record["format"] not in Product.Format.values:
        raise DataFileError(f"{where}: format {record['format']!r} is not one of {', '.join(Product.Format.values)}")
    try:
        price = Decimal(str(record["price"]))
        list_price = Decimal(str(record["list_price"])) if record.get("list_price") else None
        released = date.fromisoformat(record["release_date"])
        stock = int(record["stock"])
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise DataFileError(f"{where}: {exc}") from exc
    if price <= 0 or stock < 0:
        raise DataFileError(f"{where}: price must be positive and stock not negative")
    return {
        "title": record["title"],
        "series": record["series"],
        "volume": record.get("volume"),
        "author": record["author"],
        "format": record["format"],
        "price": price,
        "list_price": list_price,
        "stock": stock,
        "release_date": released,
        "genres": record.get("genres") or [],
        "description": record.get("description", ""),
    }


def catalog_load(*, path: Path, actor: str = "system:seed_demo") -> LoadReport:
    """Create or update products from a JSON list. All or nothing: any bad record loads none."""
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFileError(f"{path}: cannot read the catalog: {exc}") from exc
    if not isinstance(records, list):
        raise DataFileError(f"{path}: expected a JSON list of products")
    parsed = {}
    for i, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise DataFileError(f"{path}: record {i} is not an object")
        parsed[record.get("asin")] = _product_from_record(i, record)
    if len(parsed) != len(records):
        raise DataFileError(f"{path}: duplicate ASINs")
    report = LoadReport()
    with transaction.atomic():
        existing = {p.asin: p for p in Product.objects.filter(asin__in=parsed)}
        to_create, to_update = [], []
        for asin, values in parsed.items():
            product = existing.get(asin)
            if product is None:
                to_create.append(Product(asin=asin, **values))
            elif any(getattr(product, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(product, k, v)
                to_update.append(product)
            else:
                report.unchanged += 1
        Product.objects.bulk_create(to_create, batch_size=500)
        if to_update:
            Product.objects.bulk_update(to_update, fields=[f for f in _PRODUCT_FIELDS if f != "asin"], batch_size=500)
        report.created, report.updated = len(to_create), len(to_update)
        if to_create or to_update:
            transaction.on_commit(entities.reset)  # new series and authors: the gazetteer rebuilds
            audit_record(
                actor=actor,
                action=AuditAction.CATALOG_LOAD,
                target_type="chat.product",
                target_id=str(path.name),
                after={"created": report.created, "updated": report.updated, "unchanged": report.unchanged},
                evidence={"file_sha256": hashlib.sha256(path.read_bytes()).hexdigest()},
                reason="Catalog loaded from the repository's data files",
            )
    return report


def _parse_markdown(path: Path) -> tuple[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if not text.startswith("---\n"):
        raise DataFileError(f"{path}: no front matter (a '---' block with 'title:')")
    try:
        header, body = text[4:].split("\n---\n", 1)
    except ValueError as exc:
        raise DataFileError(f"{path}: front matter is not closed by '---'") from exc
    meta = dict(line.split(":", 1) for line in header.splitlines() if ":" in line)
    title = meta.get("title", "").strip()
    if not title:
        raise DataFileError(f"{path}: front matter has no title")
    if not body.strip():
        raise DataFileError(f"{path}: empty body")
    return title, body.strip()


def articles_load(*, root: Path, actor: str = "system:seed_demo") -> LoadReport:
    """Load chat/data/knowledge/<kind>/*.md. A file that cannot be parsed is reported and skipped;
    the rest load."""
    report = LoadReport()
    with transaction.atomic():
        for kind in Article.Kind.values:
            for path in sorted((root / kind).glob("*.md")):
                try:
                    title, body = _parse_markdown(path)
                except DataFileError as exc:
                    report.problems.append(str(exc))
                    continue
                except OSError as exc:
                    report.problems.append(f"{path}: {exc}")
                    continue
                checksum = hashlib.sha256(path.read_bytes()).hexdigest()
                values = {
                    "kind": kind,
                    "title": title,
                    "body": body,
                    "checksum": checksum,
                    "source_path": str(path.relative_to(root.parent)),
                }
                article = Article.objects.filter(slug=path.stem).first()
                if article is None:
                    Article.objects.create(slug=path.stem, **values)
                    report.created += 1
                elif article.checksum != checksum or article.kind != kind:
                    Article.objects.filter(pk=article.pk).update(**values)
                    report.updated += 1
                else:
                    report.unchanged += 1
        if report.created or report.updated:
            audit_record(
                actor=actor,
                action=AuditAction.KNOWLEDGE_LOAD,
                target_type="chat.article",
                target_id=str(root.name),
                after={"created": report.created, "updated": report.updated, "unchanged": report.unchanged},
                evidence={"problems": report.problems},
                reason="FAQ and policy documents loaded from data files",
            )
    return report
