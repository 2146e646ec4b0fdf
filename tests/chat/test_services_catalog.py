"""Demo data: seed_demo, the catalog and the FAQ/policy documents."""

import json

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from chat.models import Article, Product
from chat.services import DataFileError, articles_load, catalog_load


def test_seed_demo_creates_users_catalog_and_documents_and_is_idempotent(db, capsys):
    call_command("seed_demo", password="demo-pass-123")
    first = capsys.readouterr().out
    assert Product.objects.count() >= 300
    assert set(Article.objects.values_list("kind", flat=True)) == {"faq", "policy"}
    policies = set(Article.objects.filter(kind="policy").values_list("slug", flat=True))
    assert {"returns", "shipping", "prime", "pre-orders", "damaged-items", "payment"} <= policies
    assert "compliance" in first
    assert "password demo-pass-123" in first
    call_command("seed_demo")
    second = capsys.readouterr().out
    assert "0 created, 0 updated" in second
    assert "password unchanged" in second


def test_the_catalog_file_has_the_fields_the_bot_needs():
    records = json.loads((settings.DATA_DIR / "catalog.json").read_text())
    assert len(records) >= 300
    assert all(r["asin"].startswith("B0") and len(r["asin"]) == 10 for r in records)
    assert any(r["series"].startswith("Berserk") and r["format"] == "deluxe" for r in records)


def test_a_corrupt_catalog_is_refused_with_its_path_and_nothing_is_lost(db, tmp_path):
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps(
            [
                {
                    "asin": "B000000001",
                    "title": "Berserk, Vol. 1",
                    "series": "Berserk",
                    "author": "Kentaro Miura",
                    "format": "paperback",
                    "price": "14.99",
                    "stock": 3,
                    "release_date": "2003-12-10",
                }
            ]
        )
    )
    catalog_load(path=good)
    broken = tmp_path / "broken.json"
    broken.write_text('[{"asin": "B000000001", "title": ')
    with pytest.raises(DataFileError, match="broken.json"):
        catalog_load(path=broken)
    bad_record = tmp_path / "bad.json"
    bad_record.write_text(
        json.dumps(
            [
                {
                    "asin": "B000000001",
                    "title": "x",
                    "series": "x",
                    "author": "x",
                    "format": "scroll",
                    "price": "1",
                    "stock": 1,
                    "release_date": "2020-01-01",
                }
            ]
        )
    )
    with pytest.raises(DataFileError, match="record 1 .*format 'scroll'"):
        catalog_load(path=bad_record)
    assert Product.objects.get(asin="B000000001").title == "Berserk, Vol. 1"


def test_seed_demo_reports_a_corrupt_catalog_clearly(db, settings, tmp_path):
    (tmp_path / "catalog.json").write_text("not json")
    settings.DATA_DIR = tmp_path
    with pytest.raises(CommandError, match="Catalog not loaded: .*catalog.json"):
        call_command("seed_demo")


def test_an_unparsable_document_is_reported_and_the_rest_load(db, tmp_path):
    (tmp_path / "faq").mkdir()
    (tmp_path / "policy").mkdir()
    (tmp_path / "faq" / "ok.md").write_text("---\ntitle: Fine\n---\nBody text.")
    (tmp_path / "faq" / "no-front-matter.md").write_text("Just text")
    (tmp_path / "policy" / "binary.md").write_bytes(b"\xff\xfe\x00garbage")
    report = articles_load(root=tmp_path)
    assert report.created == 1
    assert any("no-front-matter.md" in p and "front matter" in p for p in report.problems)
    assert any("binary.md" in p for p in report.problems)
    assert Article.objects.filter(slug="ok").exists()
