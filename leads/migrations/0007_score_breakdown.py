# The breakdown lines move out of leads_score into their own 1:1 table (docs/scoring.md), so that
# scans of scores by segment, tier, grade or score no longer read ~1.2 KB of JSON per row.

import django.db.models.deletion
from django.db import migrations, models

COPY = "INSERT INTO leads_scorebreakdown (score_id, lines) SELECT id, breakdown FROM leads_score"
# Backwards: the re-added column (default []) takes the lines back where a row has them.
COPY_BACK = (
    "UPDATE leads_score SET breakdown = (SELECT b.lines FROM leads_scorebreakdown b WHERE b.score_id = leads_score.id) "
    "WHERE EXISTS (SELECT 1 FROM leads_scorebreakdown b WHERE b.score_id = leads_score.id)"
)


def rewrite_scores(apps, schema_editor):
    """On Postgres, DROP COLUMN only hides the column: every row keeps its bytes until rewritten,
    so scans would read 1.3 GB as before. CLUSTER rewrites the table without them (in the
    migration's transaction, unlike VACUUM FULL), in (lead, model) order. SQLite's RemoveField
    already copies the table."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CLUSTER leads_score USING one_score_per_lead_and_model")
        schema_editor.execute("ANALYZE leads_score, leads_scorebreakdown")


class Migration(migrations.Migration):

    dependencies = [
        ('leads', '0006_pending_score'),
    ]

    operations = [
        migrations.CreateModel(
            name='ScoreBreakdown',
            fields=[
                ('score', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='breakdown_row', serialize=False, to='leads.score')),
                ('lines', models.JSONField(default=list)),
            ],
        ),
        migrations.RunSQL(COPY, COPY_BACK),
        migrations.RemoveField(
            model_name='score',
            name='breakdown',
        ),
        migrations.RunPython(rewrite_scores, migrations.RunPython.noop),
    ]
