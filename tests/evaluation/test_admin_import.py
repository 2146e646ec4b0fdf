"""Import a CSV or JSON file as a dataset version from the admin, and export one back."""

import csv
import io
import json

from django.core.files.uploadedfile import SimpleUploadedFile

from evaluation.models import DatasetVersion
from mangaconsole.roles import Role
from tests.factories import make_user


def _csv(rows) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["key", "category", "query", "reference", "required", "expected_intent"])
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def test_a_bad_csv_lists_its_problems_and_a_good_one_becomes_a_version(client, golden_small):
    client.force_login(make_user("ml", Role.ML_ENGINEER))
    url = f"/admin/evaluation/goldendataset/{golden_small.dataset.pk}/import/"
    bad = _csv([{"key": "faq-500", "category": "faq", "query": "", "reference": "r", "required": "[oops"}])
    response = client.post(url, {"file": SimpleUploadedFile("new.csv", bad), "notes": "Q1", "retire": ""})
    html = response.content.decode()
    assert "query is empty" in html
    assert "required is not a JSON list" in html
    assert DatasetVersion.objects.count() == 1
    good = _csv(
        [
            {
                "key": "faq-500",
                "category": "faq",
                "query": "do you sell posters?",
                "reference": "No.",
                "required": '["No"]',
                "expected_intent": "faq",
            }
        ]
    )
    response = client.post(url, {"file": SimpleUploadedFile("new.csv", good), "notes": "Q1", "retire": "faq-003"})
    assert response.status_code == 302
    version = DatasetVersion.objects.get(number=2)
    assert version.retired == ["faq-003"]
    assert version.entries.get(key="faq-500").required == ["No"]

    exported = client.post(
        "/admin/evaluation/datasetversion/",
        {"action": "export_json", "_selected_action": [version.pk]},
    )
    body = json.loads(exported.content)
    assert body["sha256"] == version.sha256
    assert {e["key"] for e in body["entries"]} == set(version.entries.values_list("key", flat=True))


def test_a_user_without_the_permission_cannot_import(client, golden_small):
    client.force_login(make_user("pe", Role.PROMPT_ENGINEER))
    assert client.get(f"/admin/evaluation/goldendataset/{golden_small.dataset.pk}/import/").status_code == 403
