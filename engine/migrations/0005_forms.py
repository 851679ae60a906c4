import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("engine", "0004_wait_states"),
        ("flowsync", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="Form",
            fields=[
                ("key", models.BigIntegerField(primary_key=True, serialize=False)),
                ("form_id", models.CharField(max_length=255)),
                ("version", models.PositiveIntegerField()),
                (
                    "kind",
                    models.CharField(
                        choices=[("formjs", "Camunda form (form-js)"), ("jsonschema", "JSON Schema form")],
                        max_length=12,
                    ),
                ),
                ("resource_name", models.CharField(max_length=255)),
                ("checksum", models.CharField(max_length=64)),
                ("document", models.JSONField()),
                ("created_at", models.DateTimeField()),
                (
                    "deployment",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="forms", to="engine.deployment"
                    ),
                ),
                ("tenant", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, to="flowsync.tenant")),
            ],
            options={
                "indexes": [models.Index(fields=["tenant", "form_id", "-version"], name="form_latest_idx")],
                "constraints": [
                    models.UniqueConstraint(fields=("tenant", "form_id", "version"), name="uniq_form_version")
                ],
            },
        ),
    ]
