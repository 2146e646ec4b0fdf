"""audit.services.audit_record and the database's refusal to change the log."""

import threading

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, connections, transaction

from audit.models import AuditAction, AuditChainHead, AuditEntry
from audit.selectors import audit_chain_verify
from audit.services import audit_record
from tests.conftest import _TRIGGERS


def _record(i: int = 0, **over):
    kwargs = {
        "actor": "system:test",
        "action": AuditAction.ADMIN_CHANGE,
        "target_type": "chat.product",
        "target_id": i,
        "after": {"i": i},
    }
    kwargs.update(over)
    return audit_record(**kwargs)


def _drop_triggers():
    with connection.cursor() as cursor:
        for sql in _TRIGGERS.statements(connection.vendor, False):
            cursor.execute(sql)


def test_it_appends_a_gapless_linked_chain(db):
    before = AuditEntry.objects.count()
    entries = [_record(i) for i in range(5)]
    assert [e.sequence for e in entries] == list(range(before + 1, before + 6))
    for prev, nxt in zip(entries, entries[1:], strict=False):
        assert nxt.prev_hash == prev.hash
    assert AuditChainHead.objects.get().sequence == entries[-1].sequence
    assert audit_chain_verify().ok


def test_a_user_actor_is_recorded_by_name_and_id(db, django_user_model):
    user = django_user_model.objects.create_user("mika", password="x")
    entry = audit_record(actor=user, action=AuditAction.ADMIN_ADD, target_type="auth.user", target_id=user.pk)
    stored = AuditEntry.objects.get(sequence=entry.sequence)
    assert (stored.actor, stored.actor_user_id) == ("mika", user.pk)


def test_it_refuses_an_anonymous_actor(db):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(ValueError, match="needs an"):
        audit_record(actor=AnonymousUser(), action=AuditAction.ADMIN_ADD)
    with pytest.raises(ValueError, match="needs an"):
        audit_record(actor="", action=AuditAction.ADMIN_ADD)


def test_an_unknown_action_is_refused_in_python_and_the_column_needs_no_migration_for_a_new_one(db):
    # issue 17: the action column is a plain string (no choices to migrate); audit_record validates it
    assert AuditEntry._meta.get_field("action").choices is None
    before = AuditEntry.objects.count()
    with pytest.raises(ValueError, match="not a valid AuditAction"):
        audit_record(actor="system:test", action="registry.made_up")
    assert AuditEntry.objects.count() == before
    entry = audit_record(actor="system:test", action="registry.rollback")
    assert entry.action == AuditAction.RELEASE_ROLLBACK.value


def test_an_entry_rolls_back_with_its_transaction_and_the_chain_stays_whole(db):
    head = AuditChainHead.objects.get().sequence if AuditChainHead.objects.exists() else 0
    with pytest.raises(RuntimeError), transaction.atomic():
        _record(1)
        raise RuntimeError("the change failed")
    assert AuditEntry.objects.filter(sequence__gt=head).count() == 0
    _record(2)
    assert audit_chain_verify().ok


def test_values_survive_the_database_round_trip(db):
    from decimal import Decimal

    _record(after={"big": 1e16, "z": -0.0, "d": Decimal("1.10"), "nested": {"b": [1.5, None, True], "a": "ü漫画"}})
    assert audit_chain_verify().ok


@pytest.mark.parametrize("statement", ["UPDATE audit_auditentry SET reason = 'x'", "DELETE FROM audit_auditentry"])
def test_direct_sql_update_or_delete_is_refused_by_the_database(db, statement):
    _record(1)
    with pytest.raises(DatabaseError) as caught, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert "append-only" in str(caught.value)
    assert AuditEntry.objects.exists()


def test_audit_verify_names_the_exact_altered_entry_and_exits_1(db, capsys):
    entries = [_record(i) for i in range(4)]
    target = entries[2].sequence
    _drop_triggers()  # inside the test's transaction: rolled back with it
    AuditEntry.objects.filter(sequence=target).update(after={"i": 999})
    with pytest.raises(SystemExit) as exited:
        call_command("audit_verify")
    assert exited.value.code == 1
    out = capsys.readouterr().out
    assert f"BROKEN at entry {target}:" in out
    assert "content altered" in out


def test_audit_verify_reports_a_gap_and_entries_cut_from_the_end(db, capsys):
    entries = [_record(i) for i in range(5)]
    _drop_triggers()
    AuditEntry.objects.filter(sequence=entries[1].sequence).delete()
    AuditEntry.objects.filter(sequence=entries[4].sequence).delete()
    with pytest.raises(SystemExit):
        call_command("audit_verify")
    out = capsys.readouterr().out
    assert f"BROKEN at entry {entries[2].sequence}: gap" in out
    assert f"missing at the end: the chain head says {entries[4].sequence}" in out


def test_audit_verify_exits_0_when_intact(db, capsys):
    _record(1)
    call_command("audit_verify")
    assert "Audit chain intact" in capsys.readouterr().out


def test_eight_threads_appending_250_each_leave_a_gapless_chain_that_verifies(transactional_db):
    start = AuditEntry.objects.count()
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(250):
                with transaction.atomic():
                    _record(w * 1000 + i, actor=f"system:writer-{w}")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    sequences = list(AuditEntry.objects.order_by("sequence").values_list("sequence", flat=True))
    assert len(sequences) == start + 2000
    assert sequences == list(range(1, start + 2001))
    result = audit_chain_verify()
    assert result.ok, result.first_break
    assert result.checked == start + 2000
    assert {f"system:writer-{w}" for w in range(8)} <= set(AuditEntry.objects.values_list("actor", flat=True))
