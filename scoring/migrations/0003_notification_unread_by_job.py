"""The unread-alert index holds the unread alerts only, by job and kind: the header counts their
lines from it alone, up to 100 (scoring/alerts.py, alerts_unread_count)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0002_drop_score_tier"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="notification",
            name="notification_unread",
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("read_at__isnull", True)),
                fields=["user", "job", "kind"],
                name="notification_unread",
            ),
        ),
    ]
