"""Shared fixtures: named personas per role, and cleanup of the append-only audit table.

Personas follow healthchecks' hc/test.py habit: one user per role, plus ``nobody`` (logged in,
staff, no role) for permission tests.
"""

from __future__ import annotations

import importlib

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection

from mangaconsole.roles import Role

PASSWORD = "correct-horse-battery"
_TRIGGERS = importlib.import_module("audit.migrations.0002_append_only_triggers")


def audit_purge_for_teardown() -> None:
    """Empty the audit table so a transactional test's flush can run.

    Django flushes with DELETE on SQLite, which the append-only trigger refuses; the trigger is
    lifted only for this statement and put back at once. Test-only: nothing in the project calls it.
    """
    vendor = connection.vendor
    with connection.cursor() as cursor:
        for sql in _TRIGGERS.statements(vendor, False):
            cursor.execute(sql)
        cursor.execute(f"DELETE FROM {_TRIGGERS.TABLE}")  # noqa: S608
        cursor.execute("DELETE FROM audit_auditchainhead")
        for sql in _TRIGGERS.statements(vendor, True):
            cursor.execute(sql)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness buys nothing in tests and costs seconds per persona.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def transactional_db(transactional_db):
    """pytest-django's transactional_db, plus emptying the audit table before its flush."""
    yield
    audit_purge_for_teardown()


def make_user(username: str, *roles: str, **extra):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, is_staff=True, **extra)
    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def personas(db) -> dict:
    """One user per role, keyed by role, plus 'nobody' (staff, no role)."""
    users = {role: make_user(f"u_{role}", role) for role in Role.ALL if role != Role.ADMIN}
    users[Role.ADMIN] = make_user("u_admin", Role.ADMIN)
    users["nobody"] = make_user("u_nobody")
    return users


@pytest.fixture
def compliance_client(client, personas):
    client.force_login(personas[Role.COMPLIANCE_OFFICER])
    return client
