"""The import pages: upload, mapping, job page, rejected rows, permissions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from crm.roles import ADMIN, MARKETING, SALES, SDR
from leads.imports.jobs import import_job_upload
from leads.models import AuditEvent, ImportJob, Lead
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

HUBSPOT_CSV = (
    "First Name,Last Name,Email,Country/Region,Lifecycle Stage,Favourite colour\n"
    "Ada,Lovelace,ada@acme.example,Germany,customer,green\n"
    "Bob,Broken,bob@,Germany,lead,blue\n"
)


@pytest.fixture
def csv_owner_marketer(client):
    """A marketer logged in on ``client``, named "marketer" as the test CSVs'
    contact owner column names her."""
    user = UserFactory(username="marketer", roles=[MARKETING])
    client.force_login(user)
    return user


def upload(client, content: str = HUBSPOT_CSV, **fields):
    data = {
        "kind": "leads",
        "preset": "hubspot",
        "encoding": "utf-8",
        "file": SimpleUploadedFile("contacts.csv", content.encode(), "text/csv"),
        **fields,
    }
    return client.post(reverse("leads:import"), data)


def mapping_post(job: ImportJob, mapping: dict[str, str], **options) -> dict:
    data = {"preset": "hubspot", **options}
    for position, column in enumerate(job.columns):
        data[f"column_{position}"] = mapping.get(column, "")
    return data


def test_marketer_imports_a_file_through_the_pages(
    client, csv_owner_marketer, django_capture_on_commit_callbacks
):
    # Upload: a draft job, then the mapping page.
    response = upload(client)
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("leads:import_mapping", args=[job.id])
    assert (job.status, job.rows_total, job.created_by_id) == (
        "draft",
        2,
        csv_owner_marketer.id,
    )
    assert Lead.objects.count() == 0

    # Mapping: one row per column with a sample and the preset's choice.
    page = client.get(response.url)
    assert page.status_code == 200
    rows = [
        (r["column"], r["sample"], r["field"].value())
        for r in page.context["form"].mapping_rows()
    ]
    assert rows == [
        ("First Name", "Ada", "first_name"),
        ("Last Name", "Lovelace", "last_name"),
        ("Email", "ada@acme.example", "email"),
        ("Country/Region", "Germany", "country"),
        ("Lifecycle Stage", "customer", "stage"),
        ("Favourite colour", "green", ""),
    ]
    assert b'<option value="email" selected>E-mail</option>' in page.content

    # Confirm with a manual change: the task runs after commit.
    mapping = {**job.mapping, "Last Name": "", "Favourite colour": "attributes"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(response.url, mapping_post(job, mapping))
    assert response.status_code == 302
    assert response.url == reverse("leads:import_detail", args=[job.id])
    job.refresh_from_db()
    assert (job.status, job.rows_created, job.rows_rejected) == ("done", 1, 1)
    ada = Lead.objects.get()
    assert (ada.email, ada.last_name, ada.stage, ada.attributes) == (
        "ada@acme.example",
        "",
        "customer",
        {"favourite_colour": "green"},
    )
    assert (
        AuditEvent.objects.filter(action="import").get().actor_id
        == csv_owner_marketer.id
    )

    # The job page: counts and the rejected row.
    page = client.get(response.url)
    assert page.status_code == 200
    assert page.context["rejects"] == [
        {
            "line": 3,
            "reason": "Email: 'bob@' is not a valid e-mail address.",
            "row": ["Bob", "Broken", "bob@", "Germany", "lead", "blue"],
        }
    ]
    assert b"Download rejected rows (CSV)" in page.content
    assert b"js/import_detail.js" in page.content

    # The rejected rows as CSV.
    download = client.get(reverse("leads:import_rejects", args=[job.id]))
    assert download.status_code == 200
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert download["Content-Disposition"] == (
        'attachment; filename="contacts-rejected.csv"'
    )
    assert download.content.decode("utf-8-sig").splitlines() == [
        "line,reason,First Name,Last Name,Email,Country/Region,Lifecycle Stage,"
        "Favourite colour",
        "3,Email: 'bob@' is not a valid e-mail address.,Bob,Broken,bob@,Germany,"
        "lead,blue",
    ]

    # The list of recent imports links to the job.
    listing = client.get(reverse("leads:import"))
    assert list(listing.context["jobs"]) == [job]
    assert reverse("leads:import_detail", args=[job.id]).encode() in listing.content


HUBSPOT_EXPORT = (
    "Record ID,First Name,Email,Country/Region,Lead Source,Internal Notes,Plan\n"
    "301,Ada,ada@acme.example,GERMANY,Paid Social,call her back,Pro\n"
    "302,Bob,bob@acme.example,Atlantis,Podcast Ad,owes us,Free\n"
    "303,Cem,cem@acme.example,Türkiye,REFERRALS,,Team\n"
)


def test_a_skipped_column_and_an_unknown_country_on_the_pages(
    client, csv_owner_marketer, django_capture_on_commit_callbacks
):
    upload(client, HUBSPOT_EXPORT, time_zone="UTC")
    job = ImportJob.objects.get()
    page = client.get(reverse("leads:import_mapping", args=[job.id]))
    assert b'<option value="skip">\xe2\x80\x94 skip: never stored' in page.content
    assert [r["field"].value() for r in page.context["form"].mapping_rows()] == [
        "",
        "first_name",
        "email",
        "country",
        "source",
        "",
        "",
    ]

    # Skip the notes; keep the other columns not mapped (Record ID, Plan).
    mapping = {**job.mapping, "Internal Notes": "skip"}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("leads:import_mapping", args=[job.id]),
            mapping_post(job, mapping, keep_unmapped="on"),
        )

    job.refresh_from_db()
    assert (job.status, job.rows_created, job.rows_rejected) == ("done", 3, 0)
    leads = {
        lead.first_name: (lead.country, lead.source, lead.attributes)
        for lead in Lead.objects.all()
    }
    assert leads == {
        "Ada": ("DE", "paid_social", {"record_id": 301, "plan": "Pro"}),
        "Bob": (
            "",
            "other",
            {
                "record_id": 302,
                "plan": "Free",
                "country": "Atlantis",
                "source": "Podcast Ad",
            },
        ),
        "Cem": ("TR", "referral", {"record_id": 303, "plan": "Team"}),
    }
    detail = client.get(reverse("leads:import_detail", args=[job.id]))
    assert [(n["line"], n["message"]) for n in detail.context["notes"]] == [
        (
            3,
            "Country/Region: 'Atlantis' is not a country Leadflow recognises, so "
            "the country was not set; the text is kept as the attribute country. "
            "Write an ISO code (DE, DEU) or the English name (Germany).",
        ),
        (
            3,
            "Lead Source: 'Podcast Ad' is not a lead source Leadflow knows, so the "
            "source is other; the text is kept as the attribute source.",
        ),
    ]
    assert b"&#x27;Atlantis&#x27; is not a country Leadflow recognises" in (
        detail.content
    )


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("", "The submitted file is empty."),
        ("email\n", "The file has a header row but no data rows."),
        (
            "ada@acme.example,Ada\n",
            "The first row looks like data ('ada@acme.example'), not column names; "
            "add a header row such as: email,first_name,last_name.",
        ),
    ],
)
def test_a_file_level_problem_shows_on_the_upload_form(
    client, csv_owner_marketer, content, error
):
    response = upload(client, content=content)

    assert response.status_code == 200
    assert response.context["form"].errors == {"file": [error]}
    assert ImportJob.objects.count() == 0


def test_unknown_encoding_is_a_form_error(client, csv_owner_marketer):
    response = upload(client, encoding="klingon")

    assert response.context["form"].errors == {
        "encoding": [
            "Unknown encoding 'klingon'; use utf-8 (the default), latin-1 or cp1252."
        ]
    }
    assert ImportJob.objects.count() == 0


@pytest.mark.parametrize("encoding", ["rot13", "zlib_codec", "unicode_escape"])
def test_an_encoding_that_is_not_a_character_set_is_a_form_error(
    client, csv_owner_marketer, encoding
):
    response = upload(client, encoding=encoding)

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "encoding": [
            f"{encoding!r} is not a text encoding; use utf-8 (the default), "
            "latin-1, windows-1252 or the character set the file was saved in, "
            "such as utf-16 or shift_jis."
        ]
    }
    assert ImportJob.objects.count() == 0


def test_a_draft_whose_stored_encoding_is_now_refused_fails_with_the_reason(
    client, csv_owner_marketer
):
    # A draft stored before the encoding check refused such codecs.
    job = ImportJob.objects.create(
        kind="leads",
        filename="old.csv",
        content=b"email\na@acme.example\n",
        encoding="unicode_escape",
        status="draft",
        rows_total=1,
        columns=["email"],
        created_by=csv_owner_marketer,
    )
    url = reverse("leads:import_mapping", args=[job.id])

    response = client.get(url)

    assert response.status_code == 302
    assert response.url == reverse("leads:import_detail", args=[job.id])
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error.startswith("'unicode_escape' is not a text encoding;")
    page = client.get(response.url)
    assert page.status_code == 200
    assert b"is not a text encoding" in page.content
    # Visiting the mapping again lands on the failed job, not on an error.
    assert client.get(url).url == reverse("leads:import_detail", args=[job.id])
    assert Lead.objects.count() == 0


DATED_CSV = "Email,Create Date\nada@acme.example,2025-11-03 14:30\n"


def start(client, job: ImportJob, callbacks_fixture) -> None:
    with callbacks_fixture(execute=True):
        client.post(
            reverse("leads:import_mapping", args=[job.id]),
            mapping_post(job, job.mapping),
        )
    job.refresh_from_db()


def test_dates_without_a_time_zone_are_read_in_the_zone_chosen_on_the_form(
    client, csv_owner_marketer, django_capture_on_commit_callbacks
):
    response = upload(client, content=DATED_CSV, time_zone="Europe/Berlin")

    job = ImportJob.objects.get()
    assert response.url == reverse("leads:import_mapping", args=[job.id])
    assert job.time_zone == "Europe/Berlin"
    start(client, job, django_capture_on_commit_callbacks)
    assert (job.status, job.rows_created) == ("done", 1)
    assert Lead.objects.get().created_at == dt.datetime(
        2025, 11, 3, 13, 30, tzinfo=dt.UTC
    )
    page = client.get(reverse("leads:import_detail", args=[job.id]))
    assert b"dates without an offset read in Europe/Berlin" in page.content


def test_dates_without_a_time_zone_are_refused_per_row_when_none_is_chosen(
    client, csv_owner_marketer, django_capture_on_commit_callbacks
):
    upload(client, content=DATED_CSV)

    job = ImportJob.objects.get()
    assert job.time_zone == ""
    start(client, job, django_capture_on_commit_callbacks)
    assert (job.status, job.rows_created, job.rows_rejected) == ("done", 0, 1)
    assert job.rejected_rows[0]["reason"] == (
        "Create Date: '2025-11-03 14:30' has no time zone; add its offset "
        "(2026-03-01 09:30+01:00 or Z), or choose the time zone of dates without "
        "one when you import (the upload form, or --timezone)."
    )
    assert Lead.objects.count() == 0


def test_an_unknown_time_zone_is_a_form_error(client, csv_owner_marketer):
    response = upload(client, time_zone="Mars/Olympus")

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["time_zone"]
    assert ImportJob.objects.count() == 0


def test_the_upload_form_offers_the_time_zone_of_dates_without_one(
    client, csv_owner_marketer
):
    response = client.get(reverse("leads:import"))

    field = response.context["form"]["time_zone"]
    assert field.label == "Time zone of dates without one"
    choices = [value for value, _ in field.field.choices]
    assert choices[:2] == ["", "UTC"]
    assert {"Europe/Berlin", "America/New_York", "Asia/Tokyo"} <= set(choices)
    assert b'name="time_zone"' in response.content


def test_the_job_page_lists_owner_cells_refused_for_existing_leads(
    client, csv_owner_marketer, django_capture_on_commit_callbacks
):
    rep = UserFactory(username="rep", roles=[SALES])
    lead = LeadFactory(email="opp@gmail.com", stage="opportunity", owner=rep)
    upload(client, content="Email,Contact owner\nopp@gmail.com,marketer\n")
    job = ImportJob.objects.get()

    start(client, job, django_capture_on_commit_callbacks)
    page = client.get(reverse("leads:import_detail", args=[job.id]))

    assert (job.status, job.cells_refused) == ("done", 1)
    assert page.context["notes"] == [
        {
            "line": 2,
            "message": f"Contact owner: lead {lead.id} is an opportunity; its owner "
            "changes through the pipeline, not an import.",
        }
    ]
    assert {"key": "refused", "label": "Cells refused", "value": 1} in (
        page.context["job"].count_summary
    )
    assert b"its owner changes through the pipeline" in page.content
    lead.refresh_from_db()
    assert lead.owner_id == rep.id


def test_a_mapping_without_email_is_refused_and_the_job_stays_a_draft(
    client, csv_owner_marketer, django_capture_on_commit_callbacks
):
    upload(client)
    job = ImportJob.objects.get()
    url = reverse("leads:import_mapping", args=[job.id])

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(url, mapping_post(job, {"First Name": "first_name"}))

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "Map a column to email (E-mail); every row needs it."
    ]
    assert callbacks == []
    job.refresh_from_db()
    assert (job.status, Lead.objects.count()) == ("draft", 0)


def test_apply_preset_refills_the_mapping_and_saves_nothing(client, csv_owner_marketer):
    upload(client, content="Email,Title,Status\nada@acme.example,CTO,Open\n")
    job = ImportJob.objects.get()
    url = reverse("leads:import_mapping", args=[job.id])
    assert job.mapping == {"Email": "email", "Title": "", "Status": ""}

    response = client.post(
        url,
        {**mapping_post(job, {}), "preset": "salesforce", "apply_preset": "1"},
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert [r["field"].value() for r in form.mapping_rows()] == [
        "email",
        "job_title",
        "stage",
    ]
    assert form["preset"].value() == "salesforce"
    job.refresh_from_db()
    assert (job.status, job.preset) == ("draft", "hubspot")


def test_dry_run_from_the_page_then_import_for_real(
    client, csv_owner_marketer, django_capture_on_commit_callbacks
):
    upload(client, dry_run="on")
    job = ImportJob.objects.get()
    assert job.dry_run is True
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("leads:import_mapping", args=[job.id]),
            mapping_post(job, job.mapping, dry_run="on"),
        )
    job.refresh_from_db()
    assert (job.status, job.rows_created, Lead.objects.count()) == ("done", 1, 0)
    page = client.get(reverse("leads:import_detail", args=[job.id]))
    assert b"Import for real" in page.content
    assert [c["label"] for c in page.context["job"].count_summary] == [
        "Would create",
        "Would update",
        "Unchanged",
        "Rejected",
    ]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("leads:import_rerun", args=[job.id]))

    real = ImportJob.objects.exclude(id=job.id).get()
    assert response.url == reverse("leads:import_detail", args=[real.id])
    assert (real.dry_run, real.status, real.rows_created) == (False, "done", 1)
    assert list(Lead.objects.values_list("email", flat=True)) == ["ada@acme.example"]


def test_progress_fragment_shows_the_counters(client, csv_owner_marketer):
    job = import_job_upload(
        kind="leads", filename="f.csv", content=b"email\na@acme.example\n"
    )
    ImportJob.objects.filter(id=job.id).update(status="running")

    response = client.get(reverse("leads:import_progress", args=[job.id]))

    assert response.status_code == 200
    assert response.templates[0].name == "leads/partials/import_progress.html"
    assert b'data-finished="false"' in response.content
    assert b'<progress class="import-progress"' in response.content
    assert "no-cache" in response["Cache-Control"]


def test_a_draft_job_page_sends_to_the_mapping(client, csv_owner_marketer):
    job = import_job_upload(
        kind="leads", filename="f.csv", content=b"email\na@acme.example\n"
    )

    response = client.get(reverse("leads:import_detail", args=[job.id]))

    assert response.url == reverse("leads:import_mapping", args=[job.id])


def test_unknown_job_is_404(client, csv_owner_marketer):
    assert client.get(reverse("leads:import_detail", args=[999])).status_code == 404


@pytest.mark.parametrize("role", [SDR, SALES])
def test_other_roles_get_403_and_change_nothing(client, role):
    job = import_job_upload(
        kind="leads", filename="f.csv", content=b"email\na@acme.example\n"
    )
    client.force_login(UserFactory(username="someone", roles=[role]))

    pages = [
        ("get", reverse("leads:import")),
        ("post", reverse("leads:import")),
        ("get", reverse("leads:import_mapping", args=[job.id])),
        ("post", reverse("leads:import_mapping", args=[job.id])),
        ("get", reverse("leads:import_detail", args=[job.id])),
        ("get", reverse("leads:import_progress", args=[job.id])),
        ("get", reverse("leads:import_rejects", args=[job.id])),
        ("post", reverse("leads:import_rerun", args=[job.id])),
    ]
    for method, url in pages:
        assert getattr(client, method)(url).status_code == 403, url
    assert ImportJob.objects.get().status == "draft"
    assert ImportJob.objects.count() == 1


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("leads:import"))
    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/leads/import/"


def test_admin_may_import(client):
    client.force_login(UserFactory(username="boss", roles=[ADMIN]))
    assert client.get(reverse("leads:import")).status_code == 200


@pytest.mark.parametrize(("role", "shown"), [(MARKETING, True), (SDR, False)])
def test_import_nav_item_for_those_who_may_import(client, role, shown):
    client.force_login(UserFactory(username="person", roles=[role]))

    response = client.get(reverse("crm:home"), follow=True)

    labels = [item["label"] for item in response.context["nav_items"]]
    assert ("Import" in labels) is shown


def test_on_the_import_page_only_import_is_the_active_nav_item(
    client, csv_owner_marketer
):
    response = client.get(reverse("leads:import"))
    active = [i["label"] for i in response.context["nav_items"] if i["active"]]
    assert active == ["Import"]
