"""Formerly the default scoring model; it creates nothing any more.

This migration used to create a B2B model with market and industry gates as
every install's active model. That model now comes with the demo data
(crm.demo.scoring_model), and a fresh install gets a neutral default from
0007_neutral_default_model. Installs that already applied this migration
keep the models they have.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("scoring", "0001_initial")]
    operations = []
