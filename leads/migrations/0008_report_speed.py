import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# Stage rows made before this field existed get the segment of the lead's score under the same
# model: the current one, the best guess available for a crossing that was not recorded with it.
BACKFILL = """
UPDATE leads_leadstage SET mql_segment = COALESCE((
    SELECT s.segment FROM leads_score s
    WHERE s.lead_id = leads_leadstage.lead_id AND s.scoring_model_id = leads_leadstage.scoring_model_id
), '')
WHERE mql_at IS NOT NULL
"""


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0007_score_breakdown"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="leadstage",
            name="mql_segment",
            field=models.CharField(blank=True, default="", max_length=100),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="lead",
            name="owner",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="leads",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["owner", "id"], name="lead_owner_id"),
        ),
    ]
