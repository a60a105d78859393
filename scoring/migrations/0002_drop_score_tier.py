"""The (model, tier) index of the scores goes: nothing was planned through it, and every moved score
wrote an entry in it (scoring/models.py, Score.Meta)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0001_initial"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="score",
            name="score_tier",
        ),
    ]
