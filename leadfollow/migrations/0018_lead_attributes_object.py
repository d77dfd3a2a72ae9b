"""Every lead's attributes are a JSON object (issue 13).

The admin once accepted any JSON there (``[1, 2]``, ``"text"``, ``5``); the rep's lead page
and the admin's key/value table then answered 500. Today every writer refuses such values;
this wraps the ones stored before as ``{"value": <what was stored>}``, losing nothing.
"""

from django.db import migrations


def wrap_non_object_attributes(apps, schema_editor):
    Lead = apps.get_model("leadfollow", "Lead")
    if schema_editor.connection.vendor == "postgresql":  # one statement, however many rows
        table = schema_editor.quote_name(Lead._meta.db_table)
        schema_editor.execute(
            f"UPDATE {table} SET attributes = jsonb_build_object('value', attributes) "
            "WHERE jsonb_typeof(attributes) <> 'object'"
        )
        return
    rows = Lead.objects.values_list("pk", "attributes").iterator(chunk_size=2000)
    wrong = [(pk, value) for pk, value in rows if not isinstance(value, dict)]
    for pk, value in wrong:
        Lead.objects.filter(pk=pk).update(attributes={"value": value})


class Migration(migrations.Migration):
    dependencies = [
        ("leadfollow", "0017_holidays_and_phones"),
    ]

    operations = [
        migrations.RunPython(wrap_non_object_attributes, migrations.RunPython.noop),
    ]
