"""Partition engine_command and engine_event by time (PostgreSQL only; engine/store/partitions.py).

Each table becomes a parent partitioned by RANGE (logged_at), a column only the database knows
(DEFAULT now()), with primary key (id, logged_at), the same indexes and foreign key, and a DEFAULT
partition. The rows already there are not copied: the old table becomes the partition
`<table>_legacy` FOR VALUES FROM (MINVALUE) TO (the end of the current week), after
- ADD COLUMN logged_at … DEFAULT now(): catalog only (a non-volatile default), no rewrite;
- CREATE UNIQUE INDEX (id, logged_at): one index build over the existing rows;
- ATTACH PARTITION: one sequential scan to check the rows fit the range.
All of it runs in the migration's transaction, holding both tables exclusively: commands and
events can be neither written nor read meanwhile (stop the engine workers and the web first; about
1.5 s per million rows measured on the development machine). The legacy partition is dropped like
any other once none of its rows is needed (every instance it names is gone).
SQLite keeps the plain tables.
"""

import datetime

from django.db import migrations

EPOCH = datetime.datetime(2000, 1, 3, tzinfo=datetime.UTC)  # a Monday, as in engine/store/partitions.py


def _week_end() -> datetime.datetime:
    now = datetime.datetime.now(tz=datetime.UTC)
    return EPOCH + datetime.timedelta(days=7) * ((now - EPOCH) // datetime.timedelta(days=7) + 1)


def partition(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    cur = schema_editor.connection.cursor()
    for table in ("engine_command", "engine_event"):
        legacy = f"{table}_legacy"
        cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype = 'p')", [table])
        indexes = cur.fetchall()
        cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = %s::regclass AND contype = 'f'", [table])
        foreign = cur.fetchall()
        cur.execute(f"SELECT EXISTS (SELECT 1 FROM {table})")
        has_rows = cur.fetchone()[0]
        cur.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
        last_id = cur.fetchone()[0]

        cur.execute(f"ALTER TABLE {table} RENAME TO {legacy}")
        for name, _ in indexes:
            cur.execute(f"ALTER INDEX {name} RENAME TO {name[:50]}_legacy")
        for name, _ in foreign:
            cur.execute(f"ALTER TABLE {legacy} RENAME CONSTRAINT {name} TO {name[:50]}_legacy")
        # Its key becomes (id, logged_at), the parent's: one primary key per partition.
        cur.execute(f"ALTER TABLE {legacy} DROP CONSTRAINT {table}_pkey")
        cur.execute(f"ALTER TABLE {legacy} ALTER COLUMN id DROP IDENTITY IF EXISTS")
        cur.execute(f"ALTER TABLE {legacy} ADD COLUMN logged_at timestamptz NOT NULL DEFAULT now()")

        cur.execute(f"CREATE TABLE {table} (LIKE {legacy} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
                    "PARTITION BY RANGE (logged_at)")
        cur.execute(f"CREATE SEQUENCE {table}_id_seq OWNED BY {table}.id")
        cur.execute(f"SELECT setval('{table}_id_seq', %s + 1, false)", [last_id])
        cur.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{table}_id_seq')")
        cur.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (id, logged_at)")
        for _, definition in indexes:
            cur.execute(definition)  # the index as it was, now on the parent (and every partition)
        for name, definition in foreign:
            cur.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")

        if has_rows:
            cur.execute(f"ALTER TABLE {legacy} ADD CONSTRAINT {legacy}_pkey PRIMARY KEY (id, logged_at)")
            cur.execute(f"ALTER TABLE {table} ATTACH PARTITION {legacy} FOR VALUES FROM (MINVALUE) TO (%s)",
                        [_week_end()])
        else:
            cur.execute(f"DROP TABLE {legacy}")
        cur.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")


class Migration(migrations.Migration):
    # The legacy table's rename, index build and attach must be one unit: all or nothing.
    atomic = True

    dependencies = [
        ("engine", "0011_merge_20261202_0413"),
    ]

    operations = [migrations.RunPython(partition, migrations.RunPython.noop, elidable=False)]
