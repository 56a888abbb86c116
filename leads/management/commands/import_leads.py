"""``manage.py import_leads FILE``: create or update leads from a CSV file."""

from leads.management.commands._import import ImportCommand
from leads.models import ImportJob


class Command(ImportCommand):
    help = (
        "Create or update leads (by e-mail) from a CSV file, e.g. a HubSpot or "
        "Salesforce export (--preset)."
    )
    kind = ImportJob.Kind.LEADS
