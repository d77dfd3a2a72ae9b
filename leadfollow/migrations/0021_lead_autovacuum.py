from django.db import migrations

# Vacuum and analyse the lead table after 2 % of its rows changed, not PostgreSQL's default
# 20 %. The partial indexes of open leads (load, cold, rep queue) are small, but every lead
# contacted, closed or moved leaves a dead entry in them until VACUUM: with the default, a
# 1M-lead table collects up to 200,000 of them, and the scans that read those indexes (rep
# loads, the sweep's handover) slow down by as much. Stale statistics misjudge the same
# indexes. Measured in docs/scaling.md ("Vacuum"). Operators may override it per table.
SETTINGS = "autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02"


def tune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE leadfollow_lead SET ({SETTINGS})")


def untune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE leadfollow_lead RESET "
            "(autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("leadfollow", "0020_assignment_drop_redundant_fk_indexes"),
    ]

    operations = [
        migrations.RunPython(tune, untune, elidable=False),
    ]
