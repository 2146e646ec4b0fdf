"""Every CSV export (the audit log, golden dataset versions, annotation scores) neutralises cells a
spreadsheet would run as formulas (OWASP CSV injection); the golden import undoes it on the way back
in, and refuses an oversized upload with the reason and nothing saved."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from audit.services import audit_record
from evaluation.models import DatasetVersion
from mangaconsole.lib.spreadsheet import cell_restore, cell_safe
from mangaconsole.roles import Role
from tests.factories import make_user

ATTACKS = ['=HYPERLINK("http://evil.example","click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.parametrize("text", ATTACKS)
def test_a_formula_cell_is_quoted_and_restored(text):
    assert cell_safe(text) == "'" + text
    assert cell_restore(cell_safe(text)) == text
    assert cell_safe("Berserk, Vol. 1") == "Berserk, Vol. 1"
    assert cell_safe(-2.5) == -2.5  # numbers stay numbers


def test_the_audit_csv_export_read_back_holds_no_formula(client, db):
    audit_record(actor="@mallory", action="registry.flag", target_type="=1+1", target_id="x", reason=ATTACKS[0])
    client.force_login(make_user("co", Role.COMPLIANCE_OFFICER))
    now = timezone.now()
    body = b"".join(
        client.get(
            "/audit/export/download.csv",
            {
                "start": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
                "end": (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
            },
        ).streaming_content
    ).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    row = next(r for r in rows if r["target_id"] == "x")
    assert row["actor"] == "'@mallory"
    assert row["target_type"] == "'=1+1"
    assert row["reason"] == "'" + ATTACKS[0]
    cells = [c for r in rows for c in r.values() if c]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]


def test_the_golden_csv_export_is_quoted_and_imports_back_unchanged(client, golden_small):
    from evaluation.services import dataset_version_create

    dataset = golden_small.dataset
    version = dataset_version_create(
        dataset=dataset,
        rows=[{"key": "faq-900", "category": "faq", "query": "=1+1 is it in stock?", "reference": "-- yes"}],
        actor="t",
    )
    client.force_login(make_user("ml", Role.ML_ENGINEER, is_superuser=True))
    exported = client.post(
        "/admin/evaluation/datasetversion/", {"action": "export_csv", "_selected_action": [version.pk]}
    ).content
    rows = list(csv.DictReader(io.StringIO(exported.decode())))
    row = next(r for r in rows if r["key"] == "faq-900")
    assert row["query"] == "'=1+1 is it in stock?"
    assert row["reference"] == "'-- yes"
    url = f"/admin/evaluation/goldendataset/{dataset.pk}/import/"
    response = client.post(url, {"file": SimpleUploadedFile("back.csv", exported), "notes": "round trip"})
    # the quoted export imports back to exactly the same content: the same hash, so no new version
    assert (
        f"nothing changed: the content is version {version.number} ({version.sha256[:12]})" in response.content.decode()
    )
    again = DatasetVersion.objects.order_by("-number").first().entries.get(key="faq-900")
    assert (again.query, again.reference) == ("=1+1 is it in stock?", "-- yes")


def test_an_oversized_golden_upload_is_refused_with_the_reason_and_nothing_saved(client, golden_small, settings):
    client.force_login(make_user("ml", Role.ML_ENGINEER))
    url = f"/admin/evaluation/goldendataset/{golden_small.dataset.pk}/import/"
    before = DatasetVersion.objects.count()
    settings.GOLDEN_IMPORT_MAX_BYTES = 100
    big = SimpleUploadedFile("big.json", b'[{"key": "faq-1", "category": "faq", "query": "q", "reference": "r"}]' * 3)
    html = client.post(url, {"file": big, "notes": "too big"}).content.decode()
    assert "an import takes at most 100 (GOLDEN_IMPORT_MAX_BYTES)" in html
    settings.GOLDEN_IMPORT_MAX_BYTES = 10_000
    settings.GOLDEN_IMPORT_MAX_ROWS = 2
    rows = ",".join(f'{{"key": "faq-{i}", "category": "faq", "query": "q{i}", "reference": "r"}}' for i in range(3))
    html = client.post(url, {"file": SimpleUploadedFile("many.json", f"[{rows}]".encode()), "notes": "n"}).content
    assert "holds 3 entries; an import takes at most 2 (GOLDEN_IMPORT_MAX_ROWS)" in html.decode()
    assert DatasetVersion.objects.count() == before


def test_the_annotation_scores_csv_holds_no_formula(client, db):
    from evaluation.annotation import services as svc
    from tests.factories import SCORES, WEEK, traces_make

    traces_make({"faq": 2})
    batch = svc.batch_create(actor="t", start=WEEK, end=WEEK + timedelta(days=7), size=2, overlap_share=0)
    annotator = make_user("ann-csv", Role.ANNOTATOR)
    while (task := svc.task_next(annotator)) is not None:
        svc.task_submit(annotator, task.pk, SCORES | {"comment": '=HYPERLINK("http://evil.example")'})
    client.force_login(make_user("lead-csv", Role.QUALITY_LEAD))
    rows = list(csv.DictReader(io.StringIO(client.get(f"/annotate/batches/{batch.pk}/scores.csv").content.decode())))
    assert len(rows) == 2
    assert all(r["comment"].startswith("'=HYPERLINK") for r in rows)
