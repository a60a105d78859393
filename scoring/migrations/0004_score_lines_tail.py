from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0003_notification_unread_by_job"),
    ]

    operations = [
        migrations.AddField(
            model_name="score",
            name="lines_tail",
            field=models.TextField(blank=True, null=True),
        ),
    ]
