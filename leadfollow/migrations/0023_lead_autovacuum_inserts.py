from django.db import migrations

# Migration 0021 lets autovacuum visit the lead table after 2 % of its rows were updated or
# deleted; inserts have their own threshold (PostgreSQL 13+), 20 % by default: 200,000 new
# leads on a 1M-lead table before a vacuum sets their pages all-visible. Until then every
# index-only scan over new leads — the rep loads counted at each intake, the dashboard's
# recent days — fetches their heap pages too. Measured in docs/scaling.md ("Vacuum").
SETTING = "autovacuum_vacuum_insert_scale_factor"


def tune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE leadfollow_lead SET ({SETTING} = 0.02)")


def untune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE leadfollow_lead RESET ({SETTING})")


class Migration(migrations.Migration):
    dependencies = [
        ("leadfollow", "0022_unsent_escalations_index"),
    ]

    operations = [
        migrations.RunPython(tune, untune, elidable=False),
    ]
