"""Real CRM exports arrive whole: countries by name, HubSpot and Salesforce
sources, skipped columns and the activity words of HubSpot, Salesforce and
Marketo, through the commands."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.core.management import call_command

from leads.exceptions import ImportFileError
from leads.imports.jobs import import_job_create
from leads.imports.presets import (
    HUBSPOT,
    OUTBOUND_EMAIL_WORDS,
    SKIP,
    mapping_suggest,
    normalize_word,
    source_from_word,
)
from leads.imports.rows import mapping_check
from leads.imports.run import import_job_run
from leads.imports.touchpoint_chunks import kind_words
from leads.models import EventMapping, ImportJob, Lead, Touchpoint, TouchpointKind
from scoring.models import ScoringModel
from tests.factories import LeadFactory, TouchpointFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

HUBSPOT_CONTACTS = """\
Record ID,First Name,Last Name,Email,Job Title,Country/Region,Lead Source,\
Lifecycle Stage,Create Date,Favorite Color,Internal Notes
201,Anna,Schmidt,anna@bergmann.example,Head of Marketing,germany,Organic Search,\
lead,2025-10-01 09:00,blue,call back Tuesday
202,Ben,Carter,ben@carter.example,CTO,UNITED STATES OF AMERICA,PAID_SOCIAL,\
marketingqualifiedlead,2025-10-02 09:00,,VIP
203,Chi,Nguyen,chi@saigon.example,Engineer, Viet Nam ,Direct Traffic,subscriber,\
2025-10-03 09:00,green,
204,Deniz,Kaya,deniz@ankara.example,Analyst,Türkiye,EMAIL_MARKETING,lead,\
2025-10-04 09:00,,
205,Eun,Park,eun@seoul.example,Manager,"Korea, Republic of",Offline Sources,lead,\
2025-10-05 09:00,,
206,Finn,Murphy,finn@leeds.example,Director,UK,REFERRALS,lead,2025-10-06 09:00,,
207,Gia,Rossi,gia@atlantis.example,Designer,Atlantis,Podcast Ad,lead,\
2025-10-07 09:00,red,
208,Hal,Weber,hal@bergmann.example,Sales Manager,DEU,SOCIAL_MEDIA,lead,\
2025-10-08 09:00,,
"""

ATLANTIS_NOTE = (
    "Country/Region: 'Atlantis' is not a country Leadflow recognises, so the "
    "country was not set; the text is kept as the attribute country. Write an ISO "
    "code (DE, DEU) or the English name (Germany)."
)
PODCAST_NOTE = (
    "Lead Source: 'Podcast Ad' is not a lead source Leadflow knows, so the source "
    "is other; the text is kept as the attribute source."
)


def run(text: str, **options) -> ImportJob:
    job = import_job_create(
        filename="export.csv", content=text.encode(), enqueue=False, now=NOW, **options
    )
    result = import_job_run(job_id=job.id, now=NOW)
    assert result is not None
    return result


# Lead exports
# ------------------------------------------------------------------------------


def test_a_hubspot_contact_export_arrives_whole_through_the_command(tmp_path, capsys):
    path = tmp_path / "hubspot-contacts.csv"
    path.write_text(HUBSPOT_CONTACTS, encoding="utf-8")

    call_command(
        "import_leads",
        str(path),
        "--preset",
        "hubspot",
        "--map",
        "Internal Notes=",
        "--keep-unmapped",
        "--timezone",
        "UTC",
    )

    job = ImportJob.objects.get()
    assert capsys.readouterr().out.splitlines() == [
        f"Imported {path} (job {job.id}): 8 created, 0 updated, 0 unchanged, "
        "0 rejected.",
        "Notes (first 10):",
        f"  line 8: {ATLANTIS_NOTE}",
        f"  line 8: {PODCAST_NOTE}",
    ]
    assert job.mapping["Internal Notes"] == SKIP
    leads = {
        lead.first_name: (lead.country, lead.region, lead.source, lead.attributes)
        for lead in Lead.objects.all()
    }
    assert leads == {
        "Anna": (
            "DE",
            "europe",
            "organic_search",
            {"record_id": 201, "favorite_color": "blue"},
        ),
        "Ben": ("US", "north_america", "paid_social", {"record_id": 202}),
        "Chi": ("VN", "apac", "direct", {"record_id": 203, "favorite_color": "green"}),
        "Deniz": ("TR", "mea", "email", {"record_id": 204}),
        "Eun": ("KR", "apac", "other", {"record_id": 205}),
        "Finn": ("GB", "europe", "referral", {"record_id": 206}),
        "Gia": (
            "",
            "",
            "other",
            {
                "record_id": 207,
                "favorite_color": "red",
                "country": "Atlantis",
                "source": "Podcast Ad",
            },
        ),
        "Hal": ("DE", "europe", "social", {"record_id": 208}),
    }


def test_an_unrecognised_country_leaves_an_existing_leads_country_alone():
    lead = LeadFactory(email="ada@acme.example", country="FR", region="europe")

    job = run("Email,Country\nada@acme.example,Gondor\n", kind="leads", preset=HUBSPOT)

    assert (job.rows_updated, job.rows_rejected) == (1, 0)
    assert job.notes == [
        {
            "line": 2,
            "message": "Country: 'Gondor' is not a country Leadflow recognises, so "
            "the country was not set; the text is kept as the attribute country. "
            "Write an ISO code (DE, DEU) or the English name (Germany).",
        }
    ]
    lead.refresh_from_db()
    assert (lead.country, lead.region, lead.attributes) == (
        "FR",
        "europe",
        {"country": "Gondor"},
    )


@pytest.mark.parametrize(
    ("cell", "count"),
    [
        ("1,200", 1200),
        ("11-50", 11),
        ("1,001 - 5,000", 1001),
        ("51\u201375", 51),
        ("201 to 500", 201),
        ("10,000+", 10000),
        ("10K+", 10000),
    ],
)
def test_an_employee_count_is_read_as_a_number_or_a_ranges_lower_end(cell, count):
    job = run(
        f'Email,Company Name,Number of Employees\nada@acme.example,Acme,"{cell}"\n',
        kind="leads",
        preset=HUBSPOT,
    )

    assert (job.rows_created, job.rows_rejected, job.notes) == (1, 0, [])
    assert Lead.objects.get().account.employee_count == count


def test_an_unreadable_employee_count_is_kept_with_a_note_not_rejected():
    job = run(
        "Email,Company Name,Number of Employees\nada@acme.example,Acme,about fifty\n",
        kind="leads",
        preset=HUBSPOT,
    )

    assert (job.rows_created, job.rows_rejected) == (1, 0)
    lead = Lead.objects.get()
    assert (lead.account.employee_count, lead.attributes) == (
        None,
        {"employee_count": "about fifty"},
    )
    assert [note["message"] for note in job.notes] == [
        "Number of Employees: 'about fifty' is not a number of employees, so the "
        "account's was not set; the text is kept as the attribute employee_count. "
        "Write a number (250) or a range (201-500, 10,000+)."
    ]


def test_an_unrecognised_country_never_overwrites_a_kept_column_of_that_name():
    # HubSpot's preset maps both columns to country; the second stays unmapped.
    job = run(
        "Email,Country/Region,Country\nada@acme.example,Gondor,Middle-earth\n",
        kind="leads",
        preset=HUBSPOT,
        keep_unmapped=True,
    )

    assert Lead.objects.get().attributes == {
        "country": "Middle-earth",
        "country_region": "Gondor",
    }
    assert [note["message"] for note in job.notes] == [
        "Country/Region: 'Gondor' is not a country Leadflow recognises, so the "
        "country was not set; the text is kept as the attribute country_region. "
        "Write an ISO code (DE, DEU) or the English name (Germany)."
    ]


def test_a_dry_run_warns_about_an_unrecognised_country_and_stores_nothing():
    job = run(
        "email,country\nada@acme.example,Narnia\nbob@acme.example,france\n",
        kind="leads",
        dry_run=True,
    )

    assert (job.rows_created, job.rows_rejected) == (2, 0)
    assert [note["line"] for note in job.notes] == [2]
    assert Lead.objects.count() == 0


@pytest.mark.parametrize(
    ("word", "source"),
    [
        # HubSpot: internal names and labels
        ("ORGANIC_SEARCH", "organic_search"),
        ("Organic Search", "organic_search"),
        ("PAID_SEARCH", "paid_search"),
        ("Paid Social", "paid_social"),
        ("EMAIL_MARKETING", "email"),
        ("Direct Traffic", "direct"),
        ("REFERRALS", "referral"),
        ("Offline Sources", "other"),
        ("SOCIAL_MEDIA", "social"),
        ("OTHER_CAMPAIGNS", "other"),
        # Salesforce LeadSource picklist
        ("Web", "direct"),
        ("Phone Inquiry", "direct"),
        ("Partner Referral", "partner"),
        ("Purchased List", "outbound"),
        ("Other", "other"),
        # Ours
        ("paid_search", "paid_search"),
        ("Sales outbound", "outbound"),
    ],
)
def test_source_words_of_other_crms_map_to_our_sources(word, source):
    assert source_from_word(word) == source


def test_an_unknown_source_word_is_none():
    assert source_from_word("Podcast Ad") is None


def test_a_salesforce_lead_source_is_read_and_an_unknown_one_kept():
    job = run(
        "Email,Lead Source\n"
        "a@acme.example,Partner Referral\n"
        "b@acme.example,Purchased List\n"
        "c@acme.example,Billboard\n",
        kind="leads",
        preset="salesforce",
    )

    assert (job.rows_created, job.rows_rejected) == (3, 0)
    assert dict(Lead.objects.values_list("email", "source")) == {
        "a@acme.example": "partner",
        "b@acme.example": "outbound",
        "c@acme.example": "other",
    }
    assert Lead.objects.get(email="c@acme.example").attributes == {
        "source": "Billboard"
    }


def test_the_hubspot_preset_maps_either_lead_source_column():
    header = ["Email", "Original Source", "Lead Source"]

    assert mapping_suggest(header, kind="leads", preset=HUBSPOT) == {
        "Email": "email",
        "Original Source": "source",
        "Lead Source": "",
    }
    assert mapping_suggest(["Email", "Lead Source"], kind="leads", preset=HUBSPOT) == {
        "Email": "email",
        "Lead Source": "source",
    }


# Skipped columns
# ------------------------------------------------------------------------------


def test_a_skipped_column_is_never_kept_but_an_unmapped_one_is():
    plan = mapping_check(
        kind="leads",
        header=["email", "notes", "plan"],
        mapping={"email": "email", "notes": SKIP, "plan": ""},
        keep_unmapped=True,
    )

    assert (plan.fields, plan.freeform) == ({0: "email"}, {2: "plan"})


def test_a_skipped_column_is_not_stored_with_keep_unmapped():
    run(
        "email,notes,plan\nada@acme.example,private,Pro\n",
        kind="leads",
        mapping={"notes": SKIP},
        keep_unmapped=True,
    )

    assert Lead.objects.get().attributes == {"plan": "Pro"}


def test_the_command_skips_a_column_mapped_to_nothing(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("email,notes,plan\nada@acme.example,private,Pro\n")

    call_command(
        "import_leads", str(path), "--map", "notes=", "--keep-unmapped", "-v", "0"
    )

    assert Lead.objects.get().attributes == {"plan": "Pro"}
    assert ImportJob.objects.get().mapping == {
        "email": "email",
        "notes": SKIP,
        "plan": "",
    }


def test_a_required_field_cannot_be_skipped():
    with pytest.raises(ImportFileError, match=r"Map a column to email"):
        run("email\nada@acme.example\n", kind="leads", mapping={"email": SKIP})
    assert (ImportJob.objects.count(), Lead.objects.count()) == (0, 0)


# Activity exports
# ------------------------------------------------------------------------------


def test_call_and_sms_kinds_exist_and_are_not_high_intent():
    kinds = {
        kind.code: (kind.label, kind.is_high_intent, kind.is_active)
        for kind in TouchpointKind.objects.filter(code__in=["call", "sms", "chat"])
    }

    assert kinds == {
        "call": ("Phone call", False, True),
        "sms": ("SMS", False, True),
        "chat": ("Chat conversation", False, True),
    }


def test_the_fresh_install_scoring_model_gives_calls_and_sms_no_points():
    model = ScoringModel.objects.get(status="active")

    kinds = set(model.rules.values_list("touchpoint_kind", flat=True))

    assert kinds.isdisjoint({"call", "sms"})


@pytest.mark.parametrize(
    ("word", "kind"),
    [
        ("EMAIL_OPEN", "email_open"),
        ("Email Opened", "email_open"),
        ("Open Email", "email_open"),
        ("EMAIL_CLICK", "email_click"),
        ("Click Email", "email_click"),
        ("Email Clicked", "email_click"),
        ("EMAIL_BOUNCE", "email_bounce"),
        ("Email Bounced", "email_bounce"),
        ("FORM_SUBMISSION", "form_submit"),
        ("Fill Out Form", "form_submit"),
        ("Form Submitted", "form_submit"),
        ("PAGE_VIEW", "page_view"),
        ("Visit Webpage", "page_view"),
        ("Page Viewed", "page_view"),
        ("CALL", "call"),
        ("Call", "call"),
        ("Logged Call", "call"),
        ("SMS", "sms"),
        ("Send SMS", "sms"),
        ("Chat", "chat"),
        ("Chat Started", "chat"),
        ("MEETING", "call"),
        ("Meeting", "call"),
        ("Logged Meeting", "call"),
        ("Meeting Booked", "demo_request"),
        ("Meeting Scheduled", "demo_request"),
        ("Scheduled Meeting", "demo_request"),
        ("Webinar Attended", "webinar_attended"),
        ("webinar attended", "webinar_attended"),
        ("Registered for Webinar", "webinar_registered"),
        ("Unsubscribe Email", "unsubscribe"),
        # Ours still win
        ("page_view", "page_view"),
        ("E-mail open", "email_open"),
        ("Phone call", "call"),
    ],
)
def test_activity_words_of_other_crms_map_to_our_kinds(word, kind):
    assert kind_words()[normalize_word(word)] == kind


@pytest.mark.parametrize(
    "word", ["Send Email", "Email Sent", "EMAIL_SENT", "Email Delivered", "Email"]
)
def test_an_email_sent_to_the_lead_is_no_kind_of_engagement(word):
    assert normalize_word(word) not in kind_words()
    assert normalize_word(word) in OUTBOUND_EMAIL_WORDS


def test_a_word_of_an_inactive_kind_is_not_read():
    TouchpointKind.objects.filter(code="sms").update(is_active=False)

    words = kind_words()

    assert normalize_word("Send SMS") not in words
    assert normalize_word("sms") not in words


HUBSPOT_ACTIVITIES = """\
Email,Activity Type,Activity Date,Activity ID,Page URL
ada@acme.example,EMAIL_OPEN,2026-01-05 10:00,a-1,
ada@acme.example,Email Clicked,2026-01-05 10:01,a-2,
ada@acme.example,Visit Webpage,2026-01-05 10:02,a-3,https://acme.example/pricing
ada@acme.example,Logged Call,2026-01-06 15:00,a-4,
ada@acme.example,Send SMS,2026-01-06 15:30,a-5,
ada@acme.example,chat started,2026-01-07 08:00,a-6,
ada@acme.example,Meeting Booked,2026-01-07 08:30,a-7,
ada@acme.example,FILL OUT FORM,2026-01-07 08:40,a-8,
ada@acme.example,Fax Sent,2026-01-07 09:00,a-9,
ada@acme.example,MEETING,2026-01-08 11:00,a-10,
ada@acme.example,Send Email,2026-01-08 12:00,a-11,
ada@acme.example,Email Sent,2026-01-08 12:05,a-12,
"""


def test_an_activity_export_arrives_through_the_command(tmp_path, capsys):
    LeadFactory(email="ada@acme.example")
    path = tmp_path / "activities.csv"
    path.write_text(HUBSPOT_ACTIVITIES)

    call_command(
        "import_touchpoints",
        str(path),
        "--preset",
        "hubspot",
        "--timezone",
        "UTC",
    )

    job = ImportJob.objects.get()
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        f"Imported {path} (job {job.id}): 9 created, 0 updated, 2 unchanged, "
        "1 rejected."
    )
    assert out[2].startswith(
        "  line 10: Activity Type: 'Fax Sent' is not a touchpoint kind; use one of "
        "call, cart_add, chat,"
    )
    assert out[3:] == [
        "Notes (first 10):",
        "  line 12: Activity Type: 'Send Email' is an e-mail sent to the lead, not "
        "the lead's engagement: not imported (its opens and clicks are).",
        "  line 13: Activity Type: 'Email Sent' is an e-mail sent to the lead, not "
        "the lead's engagement: not imported (its opens and clicks are).",
    ]
    stored = list(
        Touchpoint.objects.order_by("external_id").values_list(
            "external_id", "kind", "properties"
        )
    )
    assert stored == [
        ("a-1", "email_open", {}),
        ("a-10", "call", {}),
        ("a-2", "email_click", {}),
        ("a-3", "page_view", {"page_url": "https://acme.example/pricing"}),
        ("a-4", "call", {}),
        ("a-5", "sms", {}),
        ("a-6", "chat", {}),
        ("a-7", "demo_request", {}),
        ("a-8", "form_submit", {}),
    ]


def test_unapplying_the_kinds_migration_keeps_a_kind_with_touchpoints():
    from django.apps import apps

    migration = importlib.import_module(
        "leads.migrations.0015_call_and_sms_touchpoint_kinds"
    )
    TouchpointFactory(kind_id="call")
    # Unapplying it unapplies the later tracking migration first, and with it
    # the event mappings that name these kinds.
    EventMapping.objects.filter(kind_id__in=["call", "sms"]).delete()

    migration.remove_kinds(apps, None)

    assert set(
        TouchpointKind.objects.filter(code__in=["call", "sms"]).values_list(
            "code", flat=True
        )
    ) == {"call"}
    migration.add_kinds(apps, None)
    assert TouchpointKind.objects.get(code="sms").label == "SMS"
