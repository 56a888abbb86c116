"""CSV import of leads and touchpoints: presets, mapping, history, bad input."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Model

from leads import lifecycle
from leads.exceptions import ImportFileError
from leads.imports import lead_chunks
from leads.imports import run as runner
from leads.imports.jobs import import_job_create
from leads.imports.lead_chunks import import_path
from leads.imports.presets import (
    HUBSPOT,
    LEADFLOW,
    SALESFORCE,
    mapping_suggest,
    stage_from_word,
)
from leads.imports.run import import_job_run
from leads.imports.values import import_time_zone, parse_when
from leads.models import (
    Account,
    AuditEvent,
    ImportJob,
    Lead,
    StageTransition,
    Touchpoint,
)
from leads.tasks import import_csv_task
from tests.factories import AccountFactory, CampaignFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

HUBSPOT_LEADS = """\
Record ID,First Name,Last Name,Email,Job Title,Phone Number,Country/Region,\
Company Name,Company Domain Name,Industry,Number of Employees,Annual Revenue,\
Lifecycle Stage,Create Date,Original Source,Lead Status,Contact owner
101,Grace,Hopper,Grace@Navy-Labs.io,VP of Engineering,+1 555 0100,United States,\
Navy Labs,navy-labs.io,COMPUTER_SOFTWARE,"1,200",5000000,marketingqualifiedlead,\
2025-11-03 14:30,PAID_SEARCH,IN_PROGRESS,Mia Marketer
102,Linus,Student,linus@gmail.com,Student,,Germany,,,,,,subscriber,\
2025-12-01 08:00,ORGANIC_SEARCH,NEW,
"""

SALESFORCE_LEADS = """\
Lead ID,First Name,Last Name,Title,Company,Email,Phone,Country,Website,Industry,\
No. of Employees,Annual Revenue,Lead Source,Status,Created Date,Lead Owner,\
Email Opt Out,Rating
00Q1,Ada,Lovelace,Chief Technology Officer,Analytical Engines,\
ada@analytical.example,+44 20 7946 0000,GB,https://www.analytical.example/about,\
Technology,250,"$12,500,000.00",Trade Show,Working - Contacted,"3/14/2025, 9:05 AM",\
mia,1,Hot
"""


def run(
    text: str | bytes,
    *,
    kind: str = ImportJob.Kind.LEADS,
    preset: str = LEADFLOW,
    mapping: dict[str, str] | None = None,
    keep_unmapped: bool = False,
    dry_run: bool = False,
    encoding: str = "utf-8",
    time_zone: str = "",
    now: dt.datetime = NOW,
) -> ImportJob:
    """Create and run an import job the way the command does."""
    content = text.encode() if isinstance(text, str) else text
    job = import_job_create(
        kind=kind,
        filename="file.csv",
        content=content,
        encoding=encoding,
        time_zone=time_zone,
        preset=preset,
        mapping=mapping,
        keep_unmapped=keep_unmapped,
        dry_run=dry_run,
        enqueue=False,
        now=now,
    )
    result = import_job_run(job_id=job.id, now=now)
    assert result is not None
    return result


def counts(job: ImportJob) -> tuple[int, int, int, int]:
    return (job.rows_created, job.rows_updated, job.rows_unchanged, job.rows_rejected)


@pytest.fixture
def mia():
    return UserFactory(username="mia", first_name="Mia", last_name="Marketer")


# Presets and mapping
# ------------------------------------------------------------------------------


def test_hubspot_preset_maps_a_contact_export(mia):
    job = run(HUBSPOT_LEADS, preset=HUBSPOT, time_zone="UTC")

    assert (job.status, counts(job)) == ("done", (2, 0, 0, 0))
    grace = Lead.objects.select_related("account").get(email="Grace@navy-labs.io")
    assert (
        grace.first_name,
        grace.last_name,
        grace.job_title,
        grace.seniority,
        grace.phone,
        grace.country,
        grace.region,
        grace.source,
        grace.owner_id,
        grace.attributes,
    ) == (
        "Grace",
        "Hopper",
        "VP of Engineering",
        "vp",
        "+1 555 0100",
        "US",
        "north_america",
        "paid_search",
        mia.id,
        {"lead_status": "IN_PROGRESS"},
    )
    assert (
        grace.account.name,
        grace.account.domain,
        grace.account.industry,
        grace.account.employee_count,
        grace.account.annual_revenue,
    ) == ("Navy Labs", "navy-labs.io", "software", 1200, Decimal("5000000.00"))
    assert (grace.stage, grace.created_at) == (
        "mql",
        dt.datetime(2025, 11, 3, 14, 30, tzinfo=dt.UTC),
    )
    linus = Lead.objects.get(email="linus@gmail.com")
    assert (linus.account_id, linus.country, linus.stage, linus.seniority) == (
        None,
        "DE",
        "lead",
        "student",
    )
    assert (linus.source, linus.owner_id) == ("organic_search", None)


def test_salesforce_preset_maps_a_lead_export(mia):
    job = run(SALESFORCE_LEADS, preset=SALESFORCE, time_zone="UTC")

    assert (job.status, counts(job), job.rejected_rows) == ("done", (1, 0, 0, 0), [])
    ada = Lead.objects.select_related("account").get()
    assert (
        ada.email,
        ada.job_title,
        ada.seniority,
        ada.country,
        ada.source,
        ada.owner_id,
        ada.do_not_email,
        ada.attributes,
        ada.stage,
        ada.created_at,
    ) == (
        "ada@analytical.example",
        "Chief Technology Officer",
        "executive",
        "GB",
        "event",
        mia.id,
        True,
        {"rating": "Hot"},
        "sal",
        dt.datetime(2025, 3, 14, 9, 5, tzinfo=dt.UTC),
    )
    assert (
        ada.account.name,
        ada.account.domain,
        ada.account.industry,
        ada.account.employee_count,
        ada.account.annual_revenue,
    ) == (
        "Analytical Engines",
        "analytical.example",
        "software",
        250,
        Decimal("12500000.00"),
    )


@pytest.mark.parametrize(
    ("preset", "header", "expected"),
    [
        (
            HUBSPOT,
            ["Email", "Country/Region", "Lifecycle Stage", "Create Date", "Notes"],
            ["email", "country", "stage", "created_at", ""],
        ),
        (
            SALESFORCE,
            ["Email", "Title", "Company", "No. of Employees", "Status", "Lead Owner"],
            ["email", "job_title", "account_name", "employee_count", "stage", "owner"],
        ),
        (
            LEADFLOW,
            ["email", "First name", "job_title", "stage", "created_at", "shoe size"],
            ["email", "first_name", "job_title", "stage", "created_at", ""],
        ),
        # Our field names work with any preset; a field is suggested once.
        (HUBSPOT, ["E-mail", "email", "utm_source"], ["email", "", "utm_source"]),
    ],
)
def test_mapping_suggest_reads_each_presets_column_names(preset, header, expected):
    mapping = mapping_suggest(header, kind="leads", preset=preset)
    assert mapping == dict(zip(header, expected, strict=True))


def test_manual_mapping_overrides_the_preset():
    csv_text = (
        "E-Mail Address,Given,Notes,Country/Region\nkim@acme.example,Kim,VIP,DE\n"
    )

    job = run(
        csv_text,
        preset=HUBSPOT,
        mapping={
            "E-Mail Address": "email",
            "Given": "first_name",
            "Country/Region": "",
        },
    )

    assert (job.status, counts(job)) == ("done", (1, 0, 0, 0))
    assert job.mapping == {
        "E-Mail Address": "email",
        "Given": "first_name",
        "Notes": "",
        "Country/Region": "",
    }
    lead = Lead.objects.get()
    assert (lead.email, lead.first_name, lead.country, lead.attributes) == (
        "kim@acme.example",
        "Kim",
        "",
        {},
    )


def test_a_number_too_large_for_json_keeps_its_column_as_text():
    huge_decimal = "9" * 400 + ".5"  # float() makes it inf; JSON has no Infinity
    huge_integer = "7" * 5000  # past the digits int() reads
    csv_text = (
        "email,revenue,ticket\n"
        f"a@acme.example,{huge_decimal},{huge_integer}\n"
        "b@acme.example,2.5,12\n"
    )

    job = run(csv_text, keep_unmapped=True)

    assert counts(job) == (2, 0, 0, 0)
    attributes = dict(Lead.objects.values_list("email", "attributes"))
    assert attributes == {
        "a@acme.example": {"revenue": huge_decimal, "ticket": huge_integer},
        "b@acme.example": {"revenue": "2.5", "ticket": "12"},
    }


def test_unmapped_columns_are_kept_as_attributes_typed_by_column():
    csv_text = (
        "email,visits,newsletter,plan,score,flag\n"
        "a@acme.example,0,yes,Pro,1.5,1\n"
        "b@acme.example,12,No,,2,0\n"
        "c@acme.example,1,TRUE,Free 2,-3,\n"
    )

    job = run(csv_text, keep_unmapped=True)

    assert counts(job) == (3, 0, 0, 0)
    attributes = dict(Lead.objects.values_list("email", "attributes"))
    assert attributes == {
        "a@acme.example": {
            "visits": 0,
            "newsletter": True,
            "plan": "Pro",
            "score": 1.5,
            "flag": True,
        },
        "b@acme.example": {
            "visits": 12,
            "newsletter": False,
            "score": 2,
            "flag": False,
        },
        "c@acme.example": {
            "visits": 1,
            "newsletter": True,
            "plan": "Free 2",
            "score": -3,
        },
    }


def test_unmapped_columns_are_dropped_without_keep_unmapped():
    run("email,plan\na@acme.example,Pro\n")
    assert Lead.objects.get().attributes == {}


# Lifecycle history
# ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "stage"),
    [
        ("subscriber", "lead"),
        ("Lead", "lead"),
        ("marketingqualifiedlead", "mql"),
        ("Marketing Qualified Lead", "mql"),
        ("salesqualifiedlead", "sql"),
        ("opportunity", "opportunity"),
        ("customer", "customer"),
        ("evangelist", "customer"),
        ("other", "nurture"),
        ("Open - Not Contacted", "lead"),
        ("Working - Contacted", "sal"),
        ("Closed - Converted", "sql"),
        ("Closed - Not Converted", "disqualified"),
        ("Sales-accepted (SAL)", "sal"),
        ("disqualified", "disqualified"),
        ("maybe later", None),
    ],
)
def test_stage_words_of_other_crms_map_to_our_stages(word, stage):
    assert stage_from_word(word) == stage


@pytest.mark.parametrize(
    ("stage", "path", "highest"),
    [
        ("lead", [], "lead"),
        ("mql", [("lead", "mql")], "mql"),
        ("sql", [("lead", "mql"), ("mql", "sal"), ("sal", "sql")], "sql"),
        (
            "customer",
            [
                ("lead", "mql"),
                ("mql", "sal"),
                ("sal", "sql"),
                ("sql", "opportunity"),
                ("opportunity", "customer"),
            ],
            "customer",
        ),
        ("nurture", [("lead", "nurture")], "lead"),
        ("disqualified", [("lead", "disqualified")], "lead"),
    ],
)
def test_imported_stage_becomes_history_made_by_the_import(stage, path, highest):
    created = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)

    run(f"email,stage,created_at\nh@acme.example,{stage},2025-06-01T12:00:00Z\n")

    lead = Lead.objects.get()
    assert (lead.stage, lead.highest_stage) == (stage, highest)
    assert (lead.created_at, lead.entered_lead_at) == (created, created)
    transitions = list(lead.transitions.order_by("id"))
    assert [(t.from_stage, t.to_stage) for t in transitions] == path
    assert {(t.system_actor, t.actor_id, t.at) for t in transitions} <= {
        ("import", None, created)
    }
    assert {t.reason for t in transitions} <= {f"Imported as {stage}"}
    for t in transitions:  # every move is one the lifecycle allows
        assert t.to_stage in lifecycle.ALLOWED_MOVES[t.from_stage]
    entered = getattr(lead, f"entered_{stage}_at")
    assert entered == created


def test_import_path_walks_the_funnel():
    assert [s.to_stage for s in import_path("opportunity", NOW)] == [
        "mql",
        "sal",
        "sql",
        "opportunity",
    ]


def test_import_path_puts_each_move_at_its_date_or_the_next_known_one():
    created = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    sql = dt.datetime(2025, 6, 20, tzinfo=dt.UTC)
    customer = dt.datetime(2025, 8, 2, tzinfo=dt.UTC)

    steps = import_path("customer", created, {"sql": sql, "customer": customer})

    assert [(s.to_stage, s.at) for s in steps] == [
        ("mql", sql),  # it had passed mql and sal by the day it became sql
        ("sal", sql),
        ("sql", sql),
        ("opportunity", customer),
        ("customer", customer),
    ]


def test_import_path_never_goes_back_in_time_and_ignores_stages_not_reached():
    created = dt.datetime(2025, 6, 10, tzinfo=dt.UTC)
    early = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)  # before the lead was created
    mql = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
    sql = dt.datetime(2025, 6, 20, tzinfo=dt.UTC)  # written before the mql date

    steps = import_path("sql", created, {"mql": mql, "sql": sql, "customer": early})

    assert [(s.to_stage, s.at) for s in steps] == [
        ("mql", sql),
        ("sal", sql),
        ("sql", sql),
    ]
    assert [s.at for s in import_path("opportunity", created, {"mql": early})] == [
        created
    ] * 4


def test_hubspot_stage_dates_become_the_times_of_the_imported_history():
    text = (
        "Email,Lifecycle Stage,Create Date,Became a Marketing Qualified Lead Date,"
        "Became a Sales Qualified Lead Date,Became a Customer Date\n"
        "ann@acme.example,customer,2025-06-01 09:00,2025-06-03 10:00,"
        "2025-06-15 16:30,2025-09-01 12:00\n"
        "bo@acme.example,salesqualifiedlead,2025-06-02 09:00,,,\n"
        "cy@acme.example,lead,2025-06-02 09:00,,2025-07-01 08:00,\n"
        "dee@acme.example,opportunity,2025-06-02 09:00,,tomorrow,\n"
    )

    job = run(text, preset=HUBSPOT, time_zone="UTC")

    assert counts(job) == (3, 0, 0, 1)
    assert job.rejected_rows[0]["line"] == 5
    assert "'tomorrow' is not a date" in job.rejected_rows[0]["reason"]
    moves = {
        (t.lead.email, t.to_stage): t.at
        for t in StageTransition.objects.select_related("lead")
    }
    utc = dt.UTC
    assert {k: v for k, v in moves.items() if k[0] == "ann@acme.example"} == {
        ("ann@acme.example", "mql"): dt.datetime(2025, 6, 3, 10, tzinfo=utc),
        ("ann@acme.example", "sal"): dt.datetime(2025, 6, 15, 16, 30, tzinfo=utc),
        ("ann@acme.example", "sql"): dt.datetime(2025, 6, 15, 16, 30, tzinfo=utc),
        ("ann@acme.example", "opportunity"): dt.datetime(2025, 9, 1, 12, tzinfo=utc),
        ("ann@acme.example", "customer"): dt.datetime(2025, 9, 1, 12, tzinfo=utc),
    }
    ann = Lead.objects.get(email="ann@acme.example")
    assert ann.entered_sql_at == dt.datetime(2025, 6, 15, 16, 30, tzinfo=utc)
    # Without dates every move is at the created date, as before.
    assert {v for k, v in moves.items() if k[0] == "bo@acme.example"} == {
        dt.datetime(2025, 6, 2, 9, tzinfo=utc)
    }
    # A date of a stage the lead never reached makes no history.
    assert not [k for k in moves if k[0] == "cy@acme.example"]


def test_salesforce_converted_date_is_when_the_lead_became_sales_qualified():
    assert mapping_suggest(
        ["Email", "Converted Date", "Created Date"], kind="leads", preset=SALESFORCE
    ) == {"Email": "email", "Converted Date": "sql_at", "Created Date": "created_at"}


def test_existing_lead_keeps_its_stage_and_history_and_the_job_says_so():
    lead = LeadFactory(email="old@acme.example", first_name="Old", stage="mql")

    job = run("email,first_name,stage\nOLD@acme.example,New,customer\n")

    assert counts(job) == (0, 1, 0, 0)
    lead.refresh_from_db()
    assert (lead.stage, lead.first_name) == ("mql", "New")
    assert StageTransition.objects.count() == 0
    assert job.notes == [
        {
            "line": 2,
            "message": "Stage kept: the lead is already mql (the file says "
            "'customer'); an import never rewrites history.",
        }
    ]


def test_existing_lead_blank_cells_change_nothing_and_attributes_merge():
    lead = LeadFactory(
        email="kim@acme.example",
        first_name="Kim",
        last_name="Lee",
        phone="+49 1",
        attributes={"plan": "Pro", "seats": 3},
    )

    job = run(
        "email,first_name,last_name,phone,plan\nkim@acme.example,,Park,,Team\n",
        keep_unmapped=True,
    )

    assert counts(job) == (0, 1, 0, 0)
    lead.refresh_from_db()
    assert (lead.first_name, lead.last_name, lead.phone, lead.attributes) == (
        "Kim",
        "Park",
        "+49 1",
        {"plan": "Team", "seats": 3},
    )
    assert lead.rescore_requested_at == NOW


def test_rerun_of_the_same_file_changes_nothing(mia):
    first = run(HUBSPOT_LEADS, preset=HUBSPOT, time_zone="UTC")
    before = list(Lead.objects.order_by("id").values())
    accounts = list(Account.objects.order_by("id").values())
    transitions = StageTransition.objects.count()

    later = NOW + dt.timedelta(hours=1)
    second = run(HUBSPOT_LEADS, preset=HUBSPOT, time_zone="UTC", now=later)

    assert counts(first) == (2, 0, 0, 0)
    assert counts(second) == (0, 0, 2, 0)
    assert list(Lead.objects.order_by("id").values()) == before
    assert list(Account.objects.order_by("id").values()) == accounts
    assert StageTransition.objects.count() == transitions


def test_leads_of_the_import_are_marked_for_a_rescore():
    # Free-mail leads: no account to link, so "same" really is unchanged.
    LeadFactory(email="same@gmail.com", first_name="Same")
    run("email,first_name\nnew@gmail.com,New\nsame@gmail.com,Same\n")

    marks = dict(Lead.objects.values_list("email", "rescore_requested_at"))
    assert marks == {"new@gmail.com": NOW, "same@gmail.com": None}


# Accounts
# ------------------------------------------------------------------------------


def test_accounts_match_by_domain_never_by_free_mail():
    acme = AccountFactory(name="Acme", domain="acme.example")
    csv_text = (
        "email,account_name,account_domain\n"
        "a@eu.acme.example,,\n"
        "b@gmail.com,,\n"
        "c@gmail.com,,https://www.Initech.example/contact\n"
        "d@hotmail.com,Acme,\n"
        "e@newco.example,,\n"
    )

    run(csv_text)

    accounts = dict(Lead.objects.values_list("email", "account__domain"))
    assert accounts == {
        "a@eu.acme.example": "acme.example",
        "b@gmail.com": None,
        "c@gmail.com": "initech.example",
        "d@hotmail.com": "acme.example",
        "e@newco.example": "newco.example",
    }
    assert Account.objects.get(domain="newco.example").name == "Newco"
    assert Account.objects.filter(domain__in=["gmail.com", "hotmail.com"]).count() == 0
    acme.refresh_from_db()
    assert acme.name == "Acme"


@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
def test_public_suffixes_never_become_or_match_accounts(dry_run):
    AccountFactory(name="Co", domain="co.uk")  # an old record made by hand
    csv_text = (
        "email,account_domain\n"
        "a@co.uk,\n"
        "b@eu.initech.co.uk,\n"
        "c@gmail.com,https://www.co.uk/\n"
    )

    job = run(csv_text, dry_run=dry_run)

    assert job.rejected_rows == [
        {
            "line": 4,
            "reason": "account_domain: co.uk is a public suffix shared by many "
            "companies; give the company's own domain, such as example.co.uk.",
            "row": ["c@gmail.com", "https://www.co.uk/"],
        }
    ]
    assert list(Account.objects.values_list("domain", flat=True)) == (
        ["co.uk"] if dry_run else ["co.uk", "eu.initech.co.uk"]
    )
    if not dry_run:
        accounts = dict(Lead.objects.values_list("email", "account__domain"))
        assert accounts == {"a@co.uk": None, "b@eu.initech.co.uk": "eu.initech.co.uk"}


# Dry run
# ------------------------------------------------------------------------------


def test_dry_run_classifies_every_row_and_writes_nothing():
    LeadFactory(email="same@gmail.com", first_name="Same", country="US")
    LeadFactory(email="change@gmail.com", first_name="Old", country="US")
    leads_before = list(Lead.objects.order_by("id").values())
    csv_text = (
        "email,first_name,country,stage\n"
        "new@newco.example,New,DE,customer\n"
        "same@gmail.com,Same,US,\n"
        "change@gmail.com,Changed,US,\n"
        "bad,Bad,US,\n"
    )

    job = run(csv_text, dry_run=True)

    assert (job.status, counts(job)) == ("done", (1, 1, 1, 1))
    assert job.rejected_rows == [
        {
            "line": 5,
            "reason": "email: 'bad' is not a valid e-mail address.",
            "row": ["bad", "Bad", "US", ""],
        }
    ]
    assert list(Lead.objects.order_by("id").values()) == leads_before
    assert Account.objects.count() == 0
    assert StageTransition.objects.count() == 0
    audit = AuditEvent.objects.filter(action="import").get()
    assert (audit.action, audit.details["dry_run"], audit.details["created"]) == (
        "import",
        True,
        1,
    )


# Bad input
# ------------------------------------------------------------------------------

GOOD = "good@acme.example,Good,US,1,2025-01-01"


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ("bob@,Bob,US,1,2025-01-01", "email: 'bob@' is not a valid e-mail address."),
        (
            "bob@ex\u0430mple.com,Bob,US,1,2025-01-01",
            "email: ex\u0430mple.com mixes Cyrillic and Latin letters in one name, "
            "as look-alike (homoglyph) domains do; type the domain in one alphabet.",
        ),
        (
            "bob@[127.0.0.1],Bob,US,1,2025-01-01",
            "email: Use an address at a domain name, such as ada@example.com; "
            "addresses at an IP address are not accepted.",
        ),
        (",Bob,US,1,2025-01-01", "email: the e-mail is blank; every lead needs one."),
        (
            "bob@acme.example,Bob,US,20000000,2025-01-01",
            "employee_count: '20000000' is too large (at most 10,000,000).",
        ),
        (
            "bob@acme.example,Bob,US,1,2027-01-01",
            "created_at: '2027-01-01' is in the future; give when it happened.",
        ),
        (
            "bob@acme.example,Bob,US,1,yesterday",
            "created_at: 'yesterday' is not a date; write it as 2026-03-01, "
            "2026-03-01 09:30 or 3/1/2026.",
        ),
        (
            "bob@acme.example,Bob,US,1,2/30/2025",
            "created_at: '2/30/2025' is not a date; write it as 2026-03-01, "
            "2026-03-01 09:30 or 3/1/2026.",
        ),
        (
            "bob@acme.example,B\x00b,US,1,2025-01-01",
            "first_name: Remove the NUL character (\\u0000); it cannot be stored.",
        ),
        (
            "bob@acme.example,Bob,US,1,2025-01-01,extra",
            "This row has 6 cells but the header has 5 columns; check for an "
            "unquoted comma or a missing cell.",
        ),
        (
            "bob@acme.example,Bob,US",
            "This row has 3 cells but the header has 5 columns; check for an "
            "unquoted comma or a missing cell.",
        ),
        (
            "bob@,Bob,Atlantis,20000000,2025-01-01",
            "email: 'bob@' is not a valid e-mail address. employee_count: "
            "'20000000' is too large (at most 10,000,000).",
        ),
        (
            "good@acme.example,Again,US,1,2025-01-01",
            "The e-mail good@acme.example is already on line 2 of this file; merge "
            "the two rows.",
        ),
    ],
)
def test_a_bad_row_is_rejected_with_its_line_and_reason(bad_line, reason):
    csv_text = (
        f"email,first_name,country,employee_count,created_at\n{GOOD}\n{bad_line}\n"
    )

    job = run(csv_text, time_zone="UTC")

    assert (job.status, counts(job)) == ("done", (1, 0, 0, 1))
    # A NUL is stored as U+FFFD (PostgreSQL's jsonb cannot hold it).
    row = bad_line.replace("\x00", "\ufffd").split(",")
    assert job.rejected_rows == [{"line": 3, "reason": reason, "row": row}]
    assert list(Lead.objects.values_list("email", "first_name")) == [
        ("good@acme.example", "Good")
    ]


def test_unknown_stage_and_owner_are_rejected():
    UserFactory(username="mia")
    csv_text = (
        "email,stage,owner\n"
        "a@acme.example,maybe,mia\n"
        "b@acme.example,mql,nobody\n"
        "c@acme.example,mql,MIA\n"
    )

    job = run(csv_text)

    assert [(r["line"], r["reason"]) for r in job.rejected_rows] == [
        (
            2,
            "stage: 'maybe' is not a lifecycle stage we know; use one of lead, mql, "
            "sal, sql, opportunity, customer, nurture, disqualified or a "
            "HubSpot/Salesforce stage name.",
        ),
        (
            3,
            "owner: no active user is 'nobody'; give a Leadflow username, e-mail or "
            "full name, or leave the column unmapped.",
        ),
    ]
    assert list(Lead.objects.values_list("email", "owner__username", "stage")) == [
        ("c@acme.example", "mia", "mql")
    ]


def test_import_keeps_the_owner_of_existing_leads_and_reports_each_refused_cell(
    mia,
):
    # Free-mail addresses: no account to link, so only the named cells change.
    rep = UserFactory(username="rep")
    opportunity = LeadFactory(
        email="opp@gmail.com", first_name="Old", stage="opportunity", owner=rep
    )
    sql = LeadFactory(email="sql@gmail.com", stage="sql", owner=rep)
    fresh = LeadFactory(email="fresh@gmail.com", stage="lead")
    csv_text = (
        "email,first_name,owner\n"
        "opp@gmail.com,New,mia\n"
        "sql@gmail.com,,mia\n"
        "fresh@gmail.com,,mia\n"
        "new@gmail.com,,mia\n"
        "OPP@gmail.com,,rep\n"
    )

    job = run(csv_text)

    # The owner cells are refused; the rest of each row is imported.
    assert job.status == "done"
    assert counts(job) == (1, 1, 2, 1)
    assert job.cells_refused == 3
    assert job.notes == [
        {
            "line": 2,
            "message": f"owner: lead {opportunity.id} is an opportunity; its owner "
            "changes through the pipeline, not an import.",
        },
        {
            "line": 3,
            "message": f"owner: lead {sql.id} is a sales-qualified lead (SQL); its "
            "owner changes through the pipeline, not an import.",
        },
        {
            "line": 4,
            "message": f"owner: lead {fresh.id} already exists; its owner is set when "
            "an SDR accepts its handoff, not by an import.",
        },
    ]
    assert dict(Lead.objects.values_list("email", "owner__username")) == {
        "opp@gmail.com": "rep",
        "sql@gmail.com": "rep",
        "fresh@gmail.com": None,
        "new@gmail.com": "mia",
    }
    assert Lead.objects.get(id=opportunity.id).first_name == "New"
    event = AuditEvent.objects.filter(action="import").get()
    assert (event.details["updated"], event.details["refused"]) == (1, 3)


def test_import_dry_run_reports_the_owner_cells_it_would_refuse(mia):
    lead = LeadFactory(email="opp@gmail.com", stage="customer")

    job = run("email,owner\nopp@gmail.com,mia\n", dry_run=True)

    assert (counts(job), job.cells_refused) == ((0, 0, 1, 0), 1)
    assert job.notes == [
        {
            "line": 2,
            "message": f"owner: lead {lead.id} is a customer; its owner changes "
            "through the pipeline, not an import.",
        }
    ]
    assert Lead.objects.get().owner_id is None


def test_import_leads_command_refuses_to_reassign_an_existing_leads_owner(
    tmp_path, capsys, mia
):
    rep = UserFactory(username="rep")
    lead = LeadFactory(email="opp@gmail.com", stage="opportunity", owner=rep)
    path = tmp_path / "owners.csv"
    path.write_text("email,last_name,owner\nopp@gmail.com,Moved,mia\n")

    call_command("import_leads", str(path))

    job = ImportJob.objects.get()
    assert capsys.readouterr().out.splitlines() == [
        f"Imported {path} (job {job.id}): 0 created, 1 updated, 0 unchanged, 0 "
        "rejected, 1 cell refused.",
        "Notes (first 10):",
        f"  line 2: owner: lead {lead.id} is an opportunity; its owner changes "
        "through the pipeline, not an import.",
    ]
    lead.refresh_from_db()
    assert (lead.owner_id, lead.last_name) == (rep.id, "Moved")


def test_erased_lead_is_not_imported_again():
    LeadFactory(email="gone@acme.example", first_name="", erased_at=NOW)

    job = run("email,first_name\ngone@acme.example,Back\n")

    assert job.rejected_rows[0]["reason"] == (
        "The personal data of gone@acme.example was erased on request; it is not "
        "imported again."
    )
    assert Lead.objects.get().first_name == ""


def test_a_multi_line_cell_keeps_the_line_numbers_right():
    csv_text = 'email,first_name\na@acme.example,"Two\nlines"\nbad,Bad\n'

    job = run(csv_text)

    assert [r["line"] for r in job.rejected_rows] == [4]
    assert Lead.objects.get().first_name == "Two\nlines"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty; export the CSV again."),
        (b"\n\n", "The file is empty; export the CSV again."),
        (b"email,first_name\n", "The file has a header row but no data rows."),
        (
            b"email,name\nada@acme.example,Ada\nbob@acme.example,B\xe9b\n",
            "The file is not valid utf-8: byte 0xE9 at offset 50 (line 3) cannot be "
            "decoded. Save the file as UTF-8, or choose its encoding (for example "
            "latin-1 or cp1252).",
        ),
        (
            b"ada@acme.example,Ada\nbob@acme.example,Bob\n",
            "The first row looks like data ('ada@acme.example'), not column names; "
            "add a header row such as: email,first_name,last_name.",
        ),
        (
            b"first_name,last_name\nAda,Lovelace\n",
            "Map a column to email (E-mail); every row needs it.",
        ),
        (
            b"email,Name,name\nada@acme.example,Ada,A\n",
            "The header names the column 'name' twice (columns 2 and 3); rename one.",
        ),
        (
            b"email,,name\nada@acme.example,x,Ada\n",
            "Column 2 of the header row has no name; name every column (or delete "
            "the empty one).",
        ),
        (
            b"PK\x03\x04\x14\x00rest-of-a-zip",
            "This is an Excel workbook (.xlsx) or another zip file, not a CSV file; "
            "save it as CSV (UTF-8) first.",
        ),
        (
            b"em\x00ail,name\nada@acme.example,Ada\n",
            "The header row holds NUL characters (\\u0000); save the file as UTF-8 "
            "text (a UTF-16 file needs --encoding utf-16).",
        ),
    ],
)
def test_a_file_level_problem_stores_nothing(content, message):
    with pytest.raises(ImportFileError) as excinfo:
        run(content)

    assert str(excinfo.value) == message
    assert (ImportJob.objects.count(), Lead.objects.count()) == (0, 0)


def test_a_mapping_to_an_unknown_column_or_field_is_refused():
    with pytest.raises(ImportFileError, match="which the file does not have"):
        run("email\na@acme.example\n", mapping={"Mail": "email"})
    with pytest.raises(ImportFileError, match="Unknown field 'e_mail'"):
        run("email\na@acme.example\n", mapping={"email": "e_mail"})
    with pytest.raises(ImportFileError, match="are both mapped to email"):
        run(
            "a,b\nx@acme.example,y@acme.example\n", mapping={"a": "email", "b": "email"}
        )
    assert ImportJob.objects.count() == 0


def test_bom_semicolons_and_another_encoding_are_read():
    run("\ufeffemail;first_name\nbom@acme.example;Bo\n")
    run(b"email,first_name\nlatin@acme.example,Jos\xe9\n", encoding="latin-1")

    assert dict(Lead.objects.values_list("email", "first_name")) == {
        "bom@acme.example": "Bo",
        "latin@acme.example": "José",
    }


NOT_TEXT_ENCODINGS = [
    "rot13",
    "base64",
    "zlib_codec",
    "hex",
    "unicode_escape",
    "raw_unicode_escape",
    "idna",
    "punycode",
    "undefined",
    "charmap",
]


@pytest.mark.parametrize("encoding", NOT_TEXT_ENCODINGS)
def test_an_encoding_that_is_not_a_character_set_is_refused(encoding):
    with pytest.raises(ImportFileError) as excinfo:
        run("email\na@acme.example\n", encoding=encoding)

    assert str(excinfo.value) == (
        f"{encoding!r} is not a text encoding; use utf-8 (the default), latin-1, "
        "windows-1252 or the character set the file was saved in, such as "
        "utf-16 or shift_jis."
    )
    assert (ImportJob.objects.count(), Lead.objects.count()) == (0, 0)


@pytest.mark.parametrize(
    ("encoding", "content"),
    [
        (
            "windows-1252",
            "email,first_name\nw@acme.example,Jos\u00e9\n".encode("cp1252"),
        ),
        ("UTF-16", "email,first_name\nu@acme.example,Jos\u00e9\n".encode("utf-16")),
        (
            "shift_jis",
            "email,first_name\ns@acme.example,\u5c71\u7530\n".encode("shift_jis"),
        ),
        (
            "mac_roman",
            "email,first_name\nm@acme.example,Jos\u00e9\n".encode("mac_roman"),
        ),
    ],
)
def test_character_sets_are_read(encoding, content):
    job = run(content, encoding=encoding)

    assert counts(job) == (1, 0, 0, 0)
    assert Lead.objects.get().first_name in {"Jos\u00e9", "\u5c71\u7530"}


def test_a_stored_job_with_an_encoding_now_refused_fails_with_the_reason():
    # A job stored before the encoding check refused such codecs.
    job = ImportJob.objects.create(
        kind="leads",
        filename="old.csv",
        content=b"email\na@acme.example\n",
        encoding="unicode_escape",
        mapping={"email": "email"},
        rows_total=1,
        columns=["email"],
    )

    job = import_job_run(job_id=job.id, now=NOW)

    assert (job.status, job.rows_processed, Lead.objects.count()) == ("failed", 0, 0)
    assert job.error.startswith("'unicode_escape' is not a text encoding; use utf-8")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-31", dt.datetime(2025, 1, 31, tzinfo=dt.UTC)),
        ("2025-01-31 14:05", dt.datetime(2025, 1, 31, 14, 5, tzinfo=dt.UTC)),
        ("2025-01-31T14:05:00+01:00", dt.datetime(2025, 1, 31, 13, 5, tzinfo=dt.UTC)),
        ("1/31/2025", dt.datetime(2025, 1, 31, tzinfo=dt.UTC)),
        ("1/31/2025, 2:05 PM", dt.datetime(2025, 1, 31, 14, 5, tzinfo=dt.UTC)),
        ("12/1/2025 12:30 AM", dt.datetime(2025, 12, 1, 0, 30, tzinfo=dt.UTC)),
        ("31.01.2025", dt.datetime(2025, 1, 31, tzinfo=dt.UTC)),
    ],
)
def test_dates_of_crm_exports_are_understood(text, expected):
    assert parse_when(text, now=NOW, tz=dt.UTC) == expected


NAIVE = (
    "{value!r} has no time zone; add its offset (2026-03-01 09:30+01:00 or Z), "
    "or choose the time zone of dates without one when you import (the upload "
    "form, or --timezone)."
)


@pytest.mark.parametrize("text", ["2025-01-31", "2025-01-31 14:05", "1/31/2025"])
def test_a_date_without_a_time_zone_is_refused_when_none_is_chosen(text):
    with pytest.raises(ValueError, match="has no time zone") as excinfo:
        parse_when(text, now=NOW)

    assert str(excinfo.value) == NAIVE.format(value=text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-31", dt.datetime(2025, 1, 30, 23, 0, tzinfo=dt.UTC)),
        ("2025-07-31 14:05", dt.datetime(2025, 7, 31, 12, 5, tzinfo=dt.UTC)),
        ("1/31/2025, 2:05 PM", dt.datetime(2025, 1, 31, 13, 5, tzinfo=dt.UTC)),
        # A date that gives its offset keeps it whatever zone was chosen.
        ("2025-01-31T14:05:00-05:00", dt.datetime(2025, 1, 31, 19, 5, tzinfo=dt.UTC)),
    ],
)
def test_a_date_without_a_time_zone_is_read_in_the_chosen_one(text, expected):
    berlin = import_time_zone("Europe/Berlin")

    assert parse_when(text, now=NOW, tz=berlin) == expected


def test_an_import_refuses_rows_with_dates_without_a_time_zone_per_row():
    csv_text = (
        "email,created_at\n"
        "naive@acme.example,2025-01-31 14:05\n"
        "aware@acme.example,2025-01-31T14:05:00Z\n"
    )

    job = run(csv_text)

    assert counts(job) == (1, 0, 0, 1)
    assert job.rejected_rows == [
        {
            "line": 2,
            "reason": "created_at: " + NAIVE.format(value="2025-01-31 14:05"),
            "row": ["naive@acme.example", "2025-01-31 14:05"],
        }
    ]
    assert list(Lead.objects.values_list("email", "created_at")) == [
        ("aware@acme.example", dt.datetime(2025, 1, 31, 14, 5, tzinfo=dt.UTC))
    ]


def test_an_import_reads_dates_without_a_time_zone_in_the_chosen_one():
    csv_text = "email,created_at\nnaive@acme.example,2025-01-31 14:05\n"

    job = run(csv_text, time_zone="America/New_York")

    assert (counts(job), job.time_zone) == ((1, 0, 0, 0), "America/New_York")
    assert Lead.objects.get().created_at == dt.datetime(
        2025, 1, 31, 19, 5, tzinfo=dt.UTC
    )


def test_touchpoint_times_without_a_time_zone_are_refused_per_row():
    LeadFactory(email="ada@acme.example")
    csv_text = "email,kind,occurred_at\nada@acme.example,page_view,2026-01-05\n"

    job = run(csv_text, kind=ImportJob.Kind.TOUCHPOINTS)

    assert [r["reason"] for r in job.rejected_rows] == [
        "occurred_at: " + NAIVE.format(value="2026-01-05")
    ]
    assert Touchpoint.objects.count() == 0


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "utc ", "x" * 80])
def test_an_unknown_time_zone_is_refused_and_nothing_is_stored(name):
    with pytest.raises(ImportFileError) as excinfo:
        run("email\na@acme.example\n", time_zone=name)

    assert str(excinfo.value) == (
        f"Unknown time zone {name!r}; use a name such as Europe/Berlin, "
        "America/New_York or UTC."
    )
    assert ImportJob.objects.count() == 0


def test_a_stored_job_with_an_unknown_time_zone_fails_with_the_reason():
    job = ImportJob.objects.create(
        kind="leads",
        filename="old.csv",
        content=b"email\na@acme.example\n",
        time_zone="Mars/Olympus",
        mapping={"email": "email"},
        rows_total=1,
        columns=["email"],
    )

    job = import_job_run(job_id=job.id, now=NOW)

    assert (job.status, Lead.objects.count()) == ("failed", 0)
    assert job.error.startswith("Unknown time zone 'Mars/Olympus';")


# Chunks, failures, the job
# ------------------------------------------------------------------------------


def test_a_failure_mid_file_keeps_earlier_chunks_and_names_the_line(monkeypatch):
    monkeypatch.setattr(runner, "IMPORT_CHUNK_ROWS", 2)
    real = lead_chunks.leads_mark_for_rescore
    calls = []

    def fail_second_chunk(ids, *, now):
        calls.append(ids)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        real(ids, now=now)

    monkeypatch.setattr(lead_chunks, "leads_mark_for_rescore", fail_second_chunk)
    rows = "".join(f"p{i}@acme.example,P{i}\n" for i in range(5))

    job = run(f"email,first_name\n{rows}")

    assert (job.status, job.rows_processed, job.last_line) == ("failed", 2, 3)
    assert job.error == (
        "Stopped at line 4: disk full. Rows before line 4 were processed (earlier "
        "rows are stored); fix the problem and import the file again (stored rows "
        "then count as unchanged)."
    )
    assert sorted(Lead.objects.values_list("email", flat=True)) == [
        "p0@acme.example",
        "p1@acme.example",
    ]
    assert (
        AuditEvent.objects.filter(action="import").get().details["status"] == "failed"
    )


def test_a_redelivered_job_resumes_after_the_last_committed_chunk(monkeypatch):
    monkeypatch.setattr(runner, "IMPORT_CHUNK_ROWS", 2)
    job = import_job_create(
        kind="leads",
        filename="f.csv",
        content=b"email\na@acme.example\nb@acme.example\nc@acme.example\n",
        enqueue=False,
        now=NOW,
    )
    # A worker died after the first chunk committed: the job says running.
    ImportJob.objects.filter(id=job.id).update(
        status="running", rows_processed=2, rows_created=2, last_line=3
    )

    job = import_job_run(job_id=job.id, now=NOW)

    assert (job.status, job.rows_processed, job.rows_created) == ("done", 3, 3)
    assert list(Lead.objects.values_list("email", flat=True)) == ["c@acme.example"]


def test_a_finished_job_is_not_run_again():
    job = run("email\na@acme.example\n")

    assert import_job_run(job_id=job.id, now=NOW) is None
    assert AuditEvent.objects.filter(action="import").count() == 1


def test_the_audit_event_carries_the_counts():
    job = run("email\na@acme.example\nbad\n")

    event = AuditEvent.objects.filter(action="import").get()
    assert (event.action, event.actor_id, event.at) == ("import", None, NOW)
    assert event.details == {
        "job_id": job.id,
        "kind": "leads",
        "filename": "file.csv",
        "dry_run": False,
        "status": "done",
        "rows": 2,
        "processed": 2,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
        "refused": 0,
        "last_line": 3,
    }


def test_the_task_runs_a_job_started_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = import_job_create(
            kind="leads", filename="f.csv", content=b"email\na@acme.example\n"
        )
    assert len(callbacks) == 1
    assert ImportJob.objects.get().status == "queued"

    import_csv_task.delay(job.id)

    job.refresh_from_db()
    assert (job.status, job.rows_created) == ("done", 1)


def inserts(model: type[Model], rows: int) -> int:
    """INSERT statements of one bulk_create: 1 on PostgreSQL; SQLite binds at
    most 999 parameters per statement, so there it is one per ~20 leads."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    return math.ceil(rows / connection.ops.bulk_batch_size(fields, [None] * rows))


def test_importing_500_leads_costs_a_bounded_number_of_queries(
    django_assert_max_num_queries,
):
    LeadFactory.create_batch(50, country="US")
    existing = [lead.email for lead in Lead.objects.all()]
    lines = [f"{email},Updated,DE,customer" for email in existing] + [
        f"new{i}@company{i % 40}.example,New,US,mql" for i in range(450)
    ]
    content = ("email,first_name,country,stage\n" + "\n".join(lines)).encode()
    job = import_job_create(
        kind="leads", filename="f.csv", content=content, enqueue=False, now=NOW
    )

    budget = 25 + inserts(Lead, 450) + inserts(StageTransition, 450)
    with django_assert_max_num_queries(budget):
        job = import_job_run(job_id=job.id, now=NOW)

    assert counts(job) == (450, 50, 0, 0)
    assert StageTransition.objects.count() == 450
    assert Lead.objects.filter(first_name="Updated", country="DE").count() == 50


# Touchpoints
# ------------------------------------------------------------------------------

TOUCHPOINTS = """\
email,kind,occurred_at,campaign,external_id,url,seconds
ada@acme.example,page_view,2026-02-01T10:00:00Z,,ev-1,https://acme.example/pricing,30
ada@acme.example,Demo request,2026-02-02 11:00,Spring Webinar,ev-2,,
new@newco.example,webinar_attended,2/3/2026,,ev-3,,45
ada@acme.example,fax,2026-02-04,,ev-4,,
ada@acme.example,page_view,2026-02-05,Nope,ev-5,,
"""


def test_touchpoints_are_ingested_with_campaigns_and_typed_properties():
    ada = LeadFactory(email="ada@acme.example")
    spring = CampaignFactory(name="Spring webinar")

    job = run(TOUCHPOINTS, kind="touchpoints", time_zone="UTC", keep_unmapped=True)

    assert (job.status, counts(job)) == ("done", (3, 0, 0, 2))
    assert [(r["line"], r["reason"]) for r in job.rejected_rows] == [
        (
            5,
            "kind: 'fax' is not a touchpoint kind; use one of call, cart_add, chat, "
            "content_download, demo_request, email_bounce, email_click, email_open, "
            "form_submit, page_view, sms, trial_signup, unsubscribe, "
            "webinar_attended, webinar_registered.",
        ),
        (
            6,
            "campaign: no campaign is named 'Nope'; create it first or leave the "
            "column unmapped.",
        ),
    ]
    stored = list(
        Touchpoint.objects.order_by("external_id").values_list(
            "lead__email", "kind", "occurred_at", "campaign", "properties", "source"
        )
    )
    assert stored == [
        (
            "ada@acme.example",
            "page_view",
            dt.datetime(2026, 2, 1, 10, 0, tzinfo=dt.UTC),
            None,
            {"url": "https://acme.example/pricing", "seconds": 30},
            "import",
        ),
        (
            "ada@acme.example",
            "demo_request",
            dt.datetime(2026, 2, 2, 11, 0, tzinfo=dt.UTC),
            spring.id,
            {},
            "import",
        ),
        (
            "new@newco.example",
            "webinar_attended",
            dt.datetime(2026, 2, 3, tzinfo=dt.UTC),
            None,
            {"seconds": 45},
            "import",
        ),
    ]
    assert Lead.objects.get(email="ada@acme.example").rescore_requested_at == NOW
    assert ada.touchpoints.count() == 2


def test_touchpoint_reimport_and_dry_run_store_nothing_twice():
    LeadFactory(email="ada@acme.example")
    CampaignFactory(name="Spring webinar")
    run(TOUCHPOINTS, kind="touchpoints", time_zone="UTC")
    stored = Touchpoint.objects.count()

    dry = run(TOUCHPOINTS, kind="touchpoints", time_zone="UTC", dry_run=True)
    again = run(TOUCHPOINTS, kind="touchpoints", time_zone="UTC")

    assert counts(dry) == (0, 0, 3, 2)
    assert counts(again) == (0, 0, 3, 2)
    assert Touchpoint.objects.count() == stored == 3


def test_touchpoint_dry_run_writes_nothing():
    job = run(TOUCHPOINTS, kind="touchpoints", time_zone="UTC", dry_run=True)

    # No campaign "Spring webinar" here: its row is refused too.
    assert counts(job) == (2, 0, 0, 3)
    assert (Touchpoint.objects.count(), Lead.objects.count()) == (0, 0)


def test_touchpoint_file_must_map_kind_and_time():
    with pytest.raises(ImportFileError, match=r"Map a column to kind \(Touchpoint"):
        run("email,when\na@acme.example,2026-01-01\n", kind="touchpoints")


def test_importing_500_touchpoints_costs_a_bounded_number_of_queries(
    django_assert_max_num_queries,
):
    lines = [
        f"p{i % 50}@acme.example,page_view,2026-02-01T10:{i % 60:02d}:00Z,tp-{i}"
        for i in range(500)
    ]
    content = ("email,kind,occurred_at,external_id\n" + "\n".join(lines)).encode()
    job = import_job_create(
        kind="touchpoints", filename="t.csv", content=content, enqueue=False, now=NOW
    )

    budget = 25 + inserts(Lead, 50) + inserts(Touchpoint, 500)
    with django_assert_max_num_queries(budget):
        job = import_job_run(job_id=job.id, now=NOW)

    assert counts(job) == (500, 0, 0, 0)
    assert Lead.objects.count() == 50


# Commands
# ------------------------------------------------------------------------------


def test_import_leads_command_with_options(tmp_path, capsys):
    path = tmp_path / "hubspot.csv"
    path.write_text(
        "First Name,Email,Country/Region,Plan\nAda,ada@acme.example,Germany,Pro\n"
        "Bob,bob@,Germany,Free\n",
        encoding="utf-8",
    )
    rejects = tmp_path / "rejects.csv"

    call_command(
        "import_leads",
        str(path),
        "--preset",
        "hubspot",
        "--map",
        "First Name=last_name",
        "--keep-unmapped",
        "--rejects",
        str(rejects),
    )

    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"Imported {path} (job {ImportJob.objects.get().id}): 1 created, 0 updated, "
        "0 unchanged, 1 rejected.",
        "Rejected rows (first 10):",
        "  line 3: Email: 'bob@' is not a valid e-mail address.",
        f"1 rejected rows written to {rejects}.",
    ]
    assert rejects.read_text().splitlines() == [
        "line,reason,First Name,Email,Country/Region,Plan",
        "3,Email: 'bob@' is not a valid e-mail address.,Bob,bob@,Germany,Free",
    ]
    lead = Lead.objects.get()
    assert (lead.first_name, lead.last_name, lead.country, lead.attributes) == (
        "",
        "Ada",
        "DE",
        {"plan": "Pro"},
    )


def test_import_touchpoints_command_dry_run(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_bytes(b"email,kind,occurred_at\nada@acme.example,page_view,2026-01-05\n")

    call_command("import_touchpoints", str(path), "--dry-run", "--timezone", "UTC")

    job = ImportJob.objects.get()
    assert capsys.readouterr().out == (
        f"Dry run of {path} (job {job.id}), nothing stored: 1 would be created, 0 "
        "updated, 0 unchanged, 0 rejected.\n"
    )
    assert (Touchpoint.objects.count(), Lead.objects.count()) == (0, 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv"], "Cannot read {dir}/missing.csv: No such file or directory."),
        (["ok.csv", "--map", "nonsense"], "Error: argument --map: 'nonsense' is not"),
        (["ok.csv", "--map", "email=mail"], "{dir}/ok.csv: Unknown field 'mail'"),
        (["ok.csv", "--encoding", "klingon"], "Error: argument --encoding: Unknown"),
        (
            ["ok.csv", "--timezone", "Mars/Olympus"],
            "Error: argument --timezone: Unknown time zone 'Mars/Olympus'",
        ),
        (
            ["ok.csv", "--encoding", "rot13"],
            "Error: argument --encoding: 'rot13' is not a text encoding; use utf-8",
        ),
        (
            ["ok.csv", "--encoding", "unicode_escape"],
            "Error: argument --encoding: 'unicode_escape' is not a text encoding",
        ),
        (
            ["ok.csv", "--rejects", "nowhere/r.csv"],
            "Error: argument --rejects: the folder nowhere does not exist",
        ),
        (["empty.csv"], "{dir}/empty.csv: The file is empty; export the CSV again."),
        (["latin.csv"], "{dir}/latin.csv: The file is not valid utf-8: byte 0xE9"),
    ],
)
def test_import_command_errors_say_what_to_fix(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ok.csv").write_text("email\na@acme.example\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "latin.csv").write_bytes(b"email,name\na@acme.example,Jos\xe9\n")
    args = [
        str(tmp_path / a) if a.endswith(".csv") and "/" not in a else a for a in args
    ]

    with pytest.raises(CommandError) as excinfo:
        call_command("import_leads", *args)

    assert str(excinfo.value).startswith(message.format(dir=tmp_path))
    assert (ImportJob.objects.count(), Lead.objects.count()) == (0, 0)


def test_import_leads_command_reads_dates_in_the_timezone_given(tmp_path, capsys):
    path = tmp_path / "dates.csv"
    path.write_text("email,created_at\na@acme.example,3/1/2026 9:30\n")

    call_command("import_leads", str(path), "--timezone", "Europe/Berlin")

    job = ImportJob.objects.get()
    assert (job.time_zone, job.rows_created) == ("Europe/Berlin", 1)
    assert Lead.objects.get().created_at == dt.datetime(
        2026, 3, 1, 8, 30, tzinfo=dt.UTC
    )


def test_import_command_without_a_timezone_refuses_dates_without_one(tmp_path, capsys):
    path = tmp_path / "dates.csv"
    path.write_text("email,created_at\na@acme.example,3/1/2026 9:30\n")

    call_command("import_leads", str(path))

    assert capsys.readouterr().out.splitlines()[-1] == (
        "  line 2: created_at: " + NAIVE.format(value="3/1/2026 9:30")
    )
    assert Lead.objects.count() == 0


def test_import_command_refuses_an_unknown_preset_given_as_keyword(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("email\na@acme.example\n")

    with pytest.raises(CommandError, match="'zoho' is not one of hubspot, leadflow"):
        call_command("import_leads", str(path), preset="zoho")


def test_import_command_fails_with_the_jobs_error(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "lead_chunk", _boom)
    path = tmp_path / "ok.csv"
    path.write_text("email\na@acme.example\n")

    with pytest.raises(CommandError, match=r"Stopped at line 2: boom\."):
        call_command("import_leads", str(path))
    assert ImportJob.objects.get().status == "failed"


def _boom(run, records):
    raise RuntimeError("boom")
