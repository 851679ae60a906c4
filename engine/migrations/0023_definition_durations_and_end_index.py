"""Start-to-end times on engine.DefinitionCounts (p50/p99 of the recently completed instances, counted with
the finished counts) and the index they are read from: (definition, state, end_date, start_date, key)
replaces (definition, state) (it serves every lookup the old one did, and the Inspector's heatmap).

On PostgreSQL the new index is built CONCURRENTLY before the old one goes (no write lock on a big
engine_processinstance while it builds), hence a non-atomic migration, as 0008 and 0019.
"""

from __future__ import annotations

from django.db import migrations, models

NEW = ("CREATE INDEX CONCURRENTLY IF NOT EXISTS pi_definition_end_idx ON engine_processinstance "
       "(definition_id, state, end_date, start_date, key)")

INDEX = models.Index(fields=["definition", "state", "end_date", "start_date", "key"], name="pi_definition_end_idx")


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(NEW)
        schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS pi_definition_idx")
        return
    model = apps.get_model("engine", "ProcessInstance")
    schema_editor.add_index(model, INDEX)
    schema_editor.remove_index(model, models.Index(fields=["definition", "state"], name="pi_definition_idx"))


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    model = apps.get_model("engine", "ProcessInstance")
    schema_editor.add_index(model, models.Index(fields=["definition", "state"], name="pi_definition_idx"))
    schema_editor.remove_index(model, INDEX)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("engine", "0022_connector_secrets")]

    operations = [
        migrations.AddField(model_name="definitioncounts", name="duration_p50",
                            field=models.FloatField(blank=True, null=True)),
        migrations.AddField(model_name="definitioncounts", name="duration_p99",
                            field=models.FloatField(blank=True, null=True)),
        migrations.AddField(model_name="definitioncounts", name="durations", field=models.IntegerField(default=0)),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(create, drop)],
            state_operations=[
                migrations.AddIndex(model_name="processinstance", index=INDEX),
                migrations.RemoveIndex(model_name="processinstance", name="pi_definition_idx"),
            ],
        ),
    ]
