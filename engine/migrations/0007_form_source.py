from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("engine", "0006_job_lease_token"),
    ]

    operations = [
        migrations.AddField(
            model_name="form",
            name="source",
            field=models.TextField(blank=True, default=""),
        ),
    ]
