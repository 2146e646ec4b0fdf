"""Changes made through the Django admin land in the audit log, in the same transaction."""

from audit.models import AuditAction, AuditEntry
from chat.models import Product
from mangaconsole.roles import Role


def _product() -> Product:
    return Product.objects.create(
        asin="B0TESTBERS",
        title="Berserk Deluxe Edition, Vol. 1",
        series="Berserk",
        volume=1,
        author="Kentaro Miura",
        format="deluxe",
        price="49.99",
        stock=5,
        release_date="2019-02-05",
    )


def test_an_admin_edit_is_audited_with_who_and_what(client, personas):
    product = _product()
    client.force_login(personas[Role.ML_ENGINEER])
    response = client.post(
        f"/admin/chat/product/{product.pk}/change/",
        {
            "asin": product.asin,
            "title": product.title,
            "series": "Berserk",
            "volume": 1,
            "author": product.author,
            "format": "deluxe",
            "price": "39.99",
            "list_price": "49.99",
            "stock": 5,
            "release_date": "2019-02-05",
            "genres": "[]",
            "description": "",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    entry = AuditEntry.objects.order_by("-sequence").first()
    assert entry.action == AuditAction.ADMIN_CHANGE
    assert (entry.actor, entry.target_type, entry.target_id) == (
        personas[Role.ML_ENGINEER].username,
        "chat.product",
        str(product.pk),
    )
    assert entry.after["price"] == "39.99"
    assert entry.evidence["admin_message"][0]["changed"]["fields"][0] == "Price"


def test_a_role_without_change_permission_cannot_edit_and_nothing_is_audited(client, personas):
    product = _product()
    before = AuditEntry.objects.count()
    client.force_login(personas[Role.PRODUCT_MANAGER])  # may view the catalog, not change it
    response = client.post(f"/admin/chat/product/{product.pk}/change/", {"price": "0.01"})
    assert response.status_code == 403
    assert AuditEntry.objects.count() == before
    product.refresh_from_db()
    assert str(product.price) == "49.99"


def test_an_admin_delete_records_the_deleted_row(client, personas):
    product = _product()
    client.force_login(personas[Role.ADMIN])
    response = client.post(f"/admin/chat/product/{product.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    entry = AuditEntry.objects.order_by("-sequence").first()
    assert entry.action == AuditAction.ADMIN_DELETE
    assert entry.before["asin"] == "B0TESTBERS"


def test_a_price_edit_is_audited(client, personas):
    from finops.models import ModelPrice

    price = ModelPrice.objects.create(
        model_id="anthropic.claude-3-haiku", input_per_1k="0.00025", output_per_1k="0.00125"
    )
    client.force_login(personas[Role.ML_ENGINEER])
    response = client.post(
        f"/admin/finops/modelprice/{price.pk}/change/",
        {
            "model_id": price.model_id,
            "input_per_1k": "0.0003",
            "output_per_1k": "0.00125",
            "currency": "USD",
            "notes": "",
        },
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.order_by("-sequence").first()
    assert (entry.action, entry.target_type) == (AuditAction.ADMIN_CHANGE, "finops.modelprice")
    assert entry.after["input_per_1k"] == "0.0003"


def test_the_audit_log_filters_by_action_and_shows_its_label(client, personas):
    from audit.services import audit_record

    audit_record(actor="system:test", action=AuditAction.RELEASE_ROLLBACK, target_type="registry.rollback", target_id=1)
    audit_record(actor="system:test", action=AuditAction.FLAG_CHANGE, target_type="registry.flag", target_id="x")
    client.force_login(personas[Role.COMPLIANCE_OFFICER])
    response = client.get("/admin/audit/auditentry/", {"action": AuditAction.RELEASE_ROLLBACK.value})
    rows = list(response.context["cl"].result_list)
    assert [r.action for r in rows] == [AuditAction.RELEASE_ROLLBACK.value]
    assert '<td class="field-action_label">Production rolled back</td>' in response.content.decode()
