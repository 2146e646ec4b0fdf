"""Role groups, their permissions, and each role's landing page."""

import pytest
from django.contrib.auth.models import Group

from audit.models import AuditAction, AuditEntry
from mangaconsole.navigation import ROLE_FLOWS
from mangaconsole.roles import ROLE_PERMISSIONS, Role, roles_sync


def _perms(group: Group) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_every_role_group_holds_exactly_its_permissions(db):
    for role in Role.ALL:
        group = Group.objects.get(name=role)
        if role == Role.ADMIN:
            assert "audit.export_auditentry" in _perms(group)
            assert len(_perms(group)) > 50
        else:
            assert _perms(group) == set(ROLE_PERMISSIONS[role]), role


def test_sync_undoes_a_hand_edit_and_audits_it(db):
    group = Group.objects.get(name=Role.ANNOTATOR)
    from django.contrib.auth.models import Permission

    group.permissions.add(Permission.objects.get(codename="export_auditentry"))
    changes = roles_sync()
    assert changes == {Role.ANNOTATOR: {"added": [], "removed": ["audit.export_auditentry"]}}
    entry = AuditEntry.objects.order_by("-sequence").first()
    assert entry.action == AuditAction.ROLE_PERMISSIONS_SYNC
    assert entry.target_id == Role.ANNOTATOR
    assert roles_sync() == {}  # idempotent


@pytest.mark.parametrize("role", Role.ALL)
def test_each_role_lands_on_its_page_with_links_that_work(client, personas, role):
    client.force_login(personas[role])
    home = client.get("/")
    assert home.status_code == 302
    assert home["Location"] == f"/home/{role}/"
    page = client.get(home["Location"])
    assert page.status_code == 200
    assert Role.LABELS[role] in page.content.decode()
    for flow in ROLE_FLOWS.get(role, []):
        from django.urls import reverse

        url = reverse(flow.url_name)
        assert url in page.content.decode(), f"{role} landing page lacks {flow.label}"
        # /healthz is 503 while no worker reports in a test; it still opens.
        assert client.get(url).status_code in ((200, 503) if flow.url_name == "healthz" else (200,)), url


def test_a_user_with_two_roles_chooses(client, personas):
    user = personas[Role.PROMPT_ENGINEER]
    user.groups.add(Group.objects.get(name=Role.ML_ENGINEER))
    client.force_login(user)
    page = client.get("/")
    assert page.status_code == 200
    assert "/home/prompt_engineer/" in page.content.decode()
    assert "/home/ml_engineer/" in page.content.decode()


def test_a_user_with_no_role_is_told_so(client, personas):
    client.force_login(personas["nobody"])
    assert "no role yet" in client.get("/").content.decode()
