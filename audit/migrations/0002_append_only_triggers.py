"""Make the audit table append-only at the database, whatever the client.

PostgreSQL: a BEFORE UPDATE OR DELETE row trigger that raises. SQLite: two BEFORE triggers that
RAISE(ABORT). A direct `UPDATE audit_auditentry ...` from psql or the sqlite3 shell fails too.
"""

from django.db import migrations

TABLE = "audit_auditentry"
MESSAGE = "audit log is append-only: UPDATE and DELETE are refused"

PG_FORWARD = f"""
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{MESSAGE} (% on %)', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
"""
PG_REVERSE = f"""
DROP TRIGGER IF EXISTS audit_append_only ON {TABLE};
DROP FUNCTION IF EXISTS audit_refuse_change();
"""
SQLITE_FORWARD = [
    f"CREATE TRIGGER audit_no_update BEFORE UPDATE ON {TABLE} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;",
    f"CREATE TRIGGER audit_no_delete BEFORE DELETE ON {TABLE} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;",
]
SQLITE_REVERSE = ["DROP TRIGGER IF EXISTS audit_no_update;", "DROP TRIGGER IF EXISTS audit_no_delete;"]


def statements(vendor: str, forward: bool) -> list[str]:
    if vendor == "postgresql":
        return [PG_FORWARD if forward else PG_REVERSE]
    if vendor == "sqlite":
        return SQLITE_FORWARD if forward else SQLITE_REVERSE
    raise RuntimeError(f"No append-only trigger for the {vendor} database; add one before using it.")


def install(apps, schema_editor):
    for sql in statements(schema_editor.connection.vendor, True):
        schema_editor.execute(sql, params=None)


def remove(apps, schema_editor):
    for sql in statements(schema_editor.connection.vendor, False):
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(install, remove)]
