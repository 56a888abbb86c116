from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0009_model_suggestion"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="leadscore",
            index=models.Index(
                fields=["computed_at"], name="lead_score_computed_idx"
            ),
        ),
    ]
