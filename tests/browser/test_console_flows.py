"""The console in a real browser: login per role, anonymous redirect, a compliance export."""

import csv
import json
from pathlib import Path

import pytest

from audit.models import AuditAction, AuditEntry
from audit.services import audit_record
from mangaconsole.roles import Role
from tests.browser.conftest import log_in
from tests.factories import PASSWORD


def test_an_anonymous_visitor_is_sent_to_login(page):
    page.goto("/home/compliance_officer/")
    assert "/accounts/login/" in page.url
    assert page.locator("h1").inner_text() == "Sign in"


@pytest.mark.parametrize("role", Role.ALL)
def test_each_role_logs_in_and_sees_its_landing_page(page, personas, role):
    log_in(page, personas[role].username, PASSWORD)
    page.wait_for_url(f"**/home/{role}/")
    assert page.get_by_test_id("landing-title").inner_text() == Role.LABELS[role]
    assert page.get_by_test_id("username").inner_text() == personas[role].username


def test_a_wrong_password_is_refused_with_a_message(page, personas):
    log_in(page, personas[Role.ANNOTATOR].username, "wrong")
    # the POST reloads the same URL: wait for the refusal itself, not for page.content() mid-navigation
    # (CI once read an empty document here)
    refusal = page.locator("p.bad")
    refusal.wait_for()
    assert "didn't match" in refusal.inner_text()
    assert "/accounts/login/" in page.url


def test_a_compliance_officer_downloads_an_audit_export_that_parses(page, personas, tmp_path):
    for i in range(12):
        audit_record(
            actor="system:test",
            action=AuditAction.ADMIN_CHANGE,
            target_type="chat.product",
            target_id=i,
            after={"stock": i},
            reason="restock",
        )
    log_in(page, personas[Role.COMPLIANCE_OFFICER].username, PASSWORD)
    page.wait_for_url("**/home/compliance_officer/")
    page.get_by_text("Export an audit report").click()
    page.wait_for_url("**/audit/export/")
    page.fill("#id_target_type", "chat.product")
    page.locator("#id_target_type").dispatch_event("change")
    page.wait_for_function("() => document.querySelector('[data-testid=match-count]')?.textContent === '12'")
    assert page.get_by_test_id("chain-status").inner_text() == "intact"

    with page.expect_download() as info:
        page.get_by_test_id("download-csv").click()
    csv_path = Path(tmp_path, "audit.csv")
    info.value.save_as(csv_path)
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 12
    assert {r["target_type"] for r in rows} == {"chat.product"}

    with page.expect_download() as info:
        page.get_by_test_id("download-json").click()
    json_path = Path(tmp_path, "audit.json")
    info.value.save_as(json_path)
    doc = json.loads(json_path.read_text())
    assert doc["count"] == 12
    assert doc["verification"]["intact"] is True

    assert (
        AuditEntry.objects.filter(
            action=AuditAction.AUDIT_EXPORT, actor=personas[Role.COMPLIANCE_OFFICER].username
        ).count()
        == 2
    )
    page.screenshot(path=str(Path(tmp_path, "export.png")))


@pytest.mark.db_agnostic
def test_the_printable_audit_report_holds_every_column_on_a4(page, personas, tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    long_reason = "Rolled back because " + "the answers about shipping to Canada were wrong " * 6
    for i in range(30):
        audit_record(
            actor=f"system:drill-{i}",
            action=AuditAction.RELEASE_ROLLBACK,
            target_type="registry.rollback",
            target_id=f"rollback-{i}-with-a-rather-long-identifier",
            reason=long_reason,
            ticket=f"INC-{1000 + i}",
        )
    log_in(page, personas[Role.COMPLIANCE_OFFICER].username, PASSWORD)
    now = timezone.now()
    query = f"start={(now - timedelta(hours=1)):%Y-%m-%dT%H:%M}&end={(now + timedelta(minutes=5)):%Y-%m-%dT%H:%M}"
    page.goto(f"/audit/export/download.html?{query}")
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 703, "height": 1000})  # A4's 186 mm between 12 mm margins, at 96 dpi
    # Charts redraw to the printed width (charts.js on the print media change and on resize).
    page.wait_for_function("() => document.documentElement.scrollWidth <= 703", timeout=5_000)
    table = page.get_by_test_id("report-table")
    widths = table.evaluate("t => [t.scrollWidth, t.parentElement.clientWidth, document.documentElement.scrollWidth]")
    assert widths[0] <= widths[1] + 1, widths  # the table is no wider than the page
    wide = page.evaluate(
        "() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 704)"
        ".map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 8)"
    )
    assert widths[2] <= 703, (widths, wide)  # nothing else on the page is wider either
    right_edges = table.evaluate("t => [...t.querySelectorAll('th')].map(th => th.getBoundingClientRect().right)")
    assert len(right_edges) == 8
    assert max(right_edges) <= 703  # Target, Reason, Ticket and Hash too
    pdf = tmp_path / "audit-report.pdf"
    page.pdf(path=str(pdf), format="A4", margin={"top": "12mm", "bottom": "12mm", "left": "12mm", "right": "12mm"})
    assert pdf.read_bytes().startswith(b"%PDF")
    page.screenshot(path=str(Path(tmp_path) / "audit-report-print.png"), full_page=True)
