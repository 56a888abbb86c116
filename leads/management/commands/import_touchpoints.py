"""``manage.py import_touchpoints FILE``: store touchpoints from a CSV file."""

from leads.management.commands._import import ImportCommand
from leads.models import ImportJob


class Command(ImportCommand):
    help = (
        "Store touchpoints (lead e-mail, kind, time, campaign, properties) from a "
        "CSV file; rows whose external id was imported before are skipped."
    )
    kind = ImportJob.Kind.TOUCHPOINTS
