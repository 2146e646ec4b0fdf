"""The compliance export: page, HTMX preview, CSV / JSON / printable downloads."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditAction, AuditEntry
from audit.services import audit_record
from tests.audit.test_services_audit import _drop_triggers


def _range(**extra) -> dict:
    now = timezone.now()
    params = {
        "start": (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "end": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
    }
    params.update(extra)
    return params


@pytest.fixture
def log(db):
    for i in range(30):
        audit_record(
            actor="system:test",
            action=AuditAction.ADMIN_CHANGE,
            target_type="chat.product",
            target_id=i,
            before={"stock": i},
            after={"stock": i + 1},
            reason=f"restock {i}",
            ticket="MANGA-42",
        )
    for i in range(5):
        audit_record(
            actor="system:roles_sync",
            action=AuditAction.ROLE_PERMISSIONS_SYNC,
            target_type="auth.group",
            target_id=f"g{i}",
        )


def _body(response) -> bytes:
    assert response.streaming, "large exports must stream"
    return b"".join(response.streaming_content)


def test_the_export_page_offers_a_range_form(compliance_client):
    response = compliance_client.get("/audit/export/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'type="datetime-local"' in html
    assert "Download CSV" in html
    assert "hx-get" in html


def test_the_preview_counts_matches_and_checks_the_chain(compliance_client, log):
    response = compliance_client.get(
        "/audit/export/preview/", _range(target_type="chat.product"), HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert '<strong data-testid="match-count">30</strong>' in html
    assert "intact" in html


def test_csv_download_parses_and_holds_the_filtered_entries(compliance_client, log):
    response = compliance_client.get("/audit/export/download.csv", _range(target_type="chat.product"))
    assert response.status_code == 200
    assert response["X-Audit-Chain-Intact"] == "true"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(_body(response).decode())))
    assert len(rows) == 30
    assert {r["target_type"] for r in rows} == {"chat.product"}
    assert json.loads(rows[0]["after"]) == {"stock": 1}
    assert rows[0]["ticket"] == "MANGA-42"
    assert len(rows[0]["hash"]) == 64


def test_json_download_carries_the_chain_verification(compliance_client, log):
    response = compliance_client.get("/audit/export/download.json", _range(action="roles.sync"))
    doc = json.loads(_body(response))
    assert doc["count"] == len(doc["entries"]) >= 5
    assert {e["action"] for e in doc["entries"]} == {"roles.sync"}
    assert doc["verification"]["intact"] is True
    assert doc["verification"]["checked"] >= 35
    assert doc["export"]["generated_by"] == "u_compliance_officer"


def test_the_printable_report_shows_verification_and_a_chart(compliance_client, log):
    response = compliance_client.get("/audit/export/download.html", _range(actor="system:test"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="chain-status">intact' in html
    assert "plotly" in html
    assert "restock 29" in html


def test_every_export_is_itself_audited(compliance_client, log):
    compliance_client.get("/audit/export/download.csv", _range())
    entry = AuditEntry.objects.order_by("-sequence").first()
    assert entry.action == AuditAction.AUDIT_EXPORT
    assert entry.actor == "u_compliance_officer"
    assert entry.after["format"] == "csv"


def test_a_tampered_range_is_reported_in_every_format(compliance_client, log):
    victim = AuditEntry.objects.filter(target_type="chat.product").order_by("sequence")[3]
    _drop_triggers()
    AuditEntry.objects.filter(sequence=victim.sequence).update(reason="nothing to see")
    csv_response = compliance_client.get("/audit/export/download.csv", _range())
    assert csv_response["X-Audit-Chain-Intact"] == "false"
    assert csv_response["X-Audit-Chain-First-Break"] == str(victim.sequence)
    doc = json.loads(_body(compliance_client.get("/audit/export/download.json", _range())))
    assert doc["verification"]["first_break"]["sequence"] == victim.sequence
    html = compliance_client.get("/audit/export/download.html", _range()).content.decode()
    assert f"BROKEN at entry {victim.sequence}" in html


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-11-02T00:00", "end": "2026-11-01T00:00"}, "must be after its start"),
        ({"start": "yesterday", "end": "2026-11-01T00:00"}, "Enter a valid date/time"),
        ({"end": "2026-11-01T00:00"}, "This field is required"),
    ],
)
def test_a_bad_range_gets_a_clear_error_and_exports_nothing(compliance_client, log, params, message):
    count = AuditEntry.objects.count()
    response = compliance_client.get("/audit/export/download.csv", params)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert AuditEntry.objects.count() == count  # no export was recorded


def test_an_unknown_format_is_refused(compliance_client):
    response = compliance_client.get("/audit/export/download.xlsx", _range())
    assert response.status_code == 400
    assert "csv, json, html" in response.content.decode()


def test_an_export_holds_exactly_the_entries_it_verified(compliance_client, log):
    first = json.loads(_body(compliance_client.get("/audit/export/download.json", _range())))
    assert first["count"] == first["verification"]["checked"]
    assert first["entries"][-1]["sequence"] == first["verification"]["last_sequence"]
    second = json.loads(_body(compliance_client.get("/audit/export/download.json", _range())))
    # the first export's own record is in the second export, and only there
    assert second["count"] == first["count"] + 1
    assert second["entries"][-1]["action"] == "audit.export"


def test_under_asgi_the_export_streams_instead_of_being_collected(personas, log):
    import warnings

    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    from mangaconsole.roles import Role

    client = AsyncClient()

    async def fetch():
        await client.aforce_login(personas[Role.COMPLIANCE_OFFICER])
        response = await client.get("/audit/export/download.csv", _range())
        return response, [part async for part in response.streaming_content]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response, parts = async_to_sync(fetch)()
    assert response.is_async, "ASGI must get an async iterator, or Django collects the whole export first"
    assert not [w for w in caught if "consume synchronous iterators" in str(w.message)]
    rows = list(csv.DictReader(io.StringIO("".join(p.decode() if isinstance(p, bytes) else p for p in parts))))
    assert len(rows) >= 35
