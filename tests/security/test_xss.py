"""Stored XSS: script payloads in stored text are shown as text, never run.

Names, titles, an account name, touchpoint properties, handoff feedback, a
contact attempt note, a scoring rule's label and a model's name carry script
payloads; the pages that show them are opened in Chromium as the roles that
use them. Each page must show the payload as text (so it was rendered, and
escaped), run none of it, open no dialog, carry no ``javascript:`` link and
send a Content-Security-Policy header. The CSV downloads must neutralise
cells a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm.roles import ADMIN, MARKETING, SDR
from handoff import services
from handoff.models import ContactAttempt, Handoff
from leads.imports.jobs import import_job_create
from leads.imports.run import import_job_run
from leads.imports.selectors import import_job_rejects_write
from leads.models import ImportJob, Lead
from scoring.models import ScoringModel, ScoringRule
from scoring.selectors import model_active
from scoring.services import lead_rescore, model_clone
from tests.browser import PASSWORD
from tests.factories import (
    AccountFactory,
    CalendarFactory,
    LeadFactory,
    SlaFactory,
    TeamFactory,
    TeamMemberFactory,
    TouchpointFactory,
    UserFactory,
)

SCRIPT = "<script>window.__xss=1</script>"
IMG = '"><img src=x onerror="window.__xss=2">'
SVG = "<svg onload=window.__xss=3>"
JS_URL = "javascript:window.__xss=4"

FIRST = f"Ann{SCRIPT}"
LAST = f"Lee{IMG}"
TITLE = f"VP Marketing {SVG}"
COMPANY = f"Acme{SCRIPT}"
FEEDBACK = f"Not a fit {IMG}"
NOTE = f"Voicemail {SCRIPT}"
RULE = f"Demo request {IMG}"
MODEL = f"Draft {SCRIPT}"
TEAM = f"SDR team {SVG}"
SLA = f"Inbound {IMG}"


def _hand_over(lead: Lead, *, opened: dt.datetime) -> Handoff:
    """Score the lead into an MQL and open its handoff at ``opened``."""
    for kind, hours, url in [
        ("demo_request", 0.2, JS_URL),
        ("page_view", 0.5, "https://acme.example/pricing"),
    ]:
        TouchpointFactory(
            lead=lead,
            kind_id=kind,
            occurred_at=opened - dt.timedelta(hours=hours),
            properties={"url": url, "note": SCRIPT},
        )
    with transaction.atomic():
        lead_rescore(lead_id=lead.id, model=model_active(), now=opened)
        handoff = services.handoff_open(lead_id=lead.id, now=opened)
    assert handoff is not None
    return handoff


def _world() -> dict[str, Any]:
    """Two MQLs with payloads everywhere: one pending, one rejected with feedback."""
    now = timezone.now()
    sdr = UserFactory(username="ada", first_name="Ada", roles=[SDR])
    UserFactory(username="maya", roles=[MARKETING])
    UserFactory(username="root", roles=[ADMIN], is_staff=True, is_superuser=True)
    team = TeamFactory(name=TEAM)
    TeamMemberFactory(team=team, user=sdr)
    calendar = CalendarFactory(
        saturday=True,
        sunday=True,
        day_start=dt.time(0),
        day_end=dt.time(23, 59, 59, 999999),
    )
    SlaFactory(name=SLA, team=team, calendar=calendar, accept_within_hours=10)
    # The active model's rules carry a payload label: it shows in every
    # lead's score breakdown.
    active = model_active()
    ScoringRule.objects.filter(model=active, kind="engagement").update(label=RULE)
    draft = model_clone(model=active)
    ScoringModel.objects.filter(id=draft.id).update(name=MODEL)
    account = AccountFactory(name=COMPANY, domain="acme.example", employee_count=5000)
    leads = [
        LeadFactory(
            email=f"{who}@acme.example",
            first_name=FIRST,
            last_name=LAST,
            job_title=TITLE,
            seniority="vp",
            account=account,
            attributes={"website": JS_URL, "bio": SCRIPT},
        )
        for who in ("pending", "rejected")
    ]
    pending = _hand_over(leads[0], opened=now - dt.timedelta(hours=1))
    rejected = _hand_over(leads[1], opened=now - dt.timedelta(hours=2))
    services.attempt_log(
        handoff_id=pending.id,
        actor=sdr,
        channel=ContactAttempt.Channel.CALL,
        outcome=ContactAttempt.Outcome.VOICEMAIL,
        note=NOTE,
        now=now,
    )
    services.handoff_reject(
        handoff_id=rejected.id, actor=sdr, reason="no_fit", feedback=FEEDBACK, now=now
    )
    return {
        "pending": pending,
        "rejected": rejected,
        "leads": leads,
        "account": account,
        "draft": draft,
        "attempt": ContactAttempt.objects.get(handoff=pending),
    }


@pytest.fixture
def new_page(browser):
    contexts = []

    def make():
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        # The machine is shared and slow: a page may take long, never fail.
        context.set_default_timeout(120_000)
        contexts.append(context)
        page = context.new_page()
        page.dialogs = []  # type: ignore[attr-defined]

        def on_dialog(dialog: Any) -> None:
            page.dialogs.append(dialog.message)  # type: ignore[attr-defined]
            dialog.dismiss()

        page.on("dialog", on_dialog)
        return page

    yield make
    for context in contexts:
        context.close()


def _login(page: Any, live_server: Any, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


#: Elements and attributes a payload would have created had it been parsed.
INJECTED = """() => [
    ...document.querySelectorAll('img[src="x"], svg[onload], [onerror], [onload]'),
    ...[...document.scripts].filter(s => s.textContent.includes('__xss')),
    ...document.querySelectorAll('a[href^="javascript:" i]'),
].length"""


def _visit(
    page: Any,
    url: str,
    *,
    shows: tuple[str, ...] = (),
    inputs: dict[str, str] | None = None,
) -> None:
    """Open ``url``; the payloads in ``shows`` must be on it as text, none run."""
    response = page.goto(url)
    assert response.status == 200, url
    # Waiting for the text also waits for fragments htmx loads after the page
    # (pages that poll never go network-idle).
    for payload in shows:
        page.wait_for_function(
            "payload => document.body.innerText.includes(payload)", arg=payload
        )
    for name, value in (inputs or {}).items():
        assert page.locator(f"[name={name}]").input_value() == value, url
    assert page.evaluate("typeof window.__xss") == "undefined", url
    assert page.evaluate(INJECTED) == 0, url
    assert page.dialogs == [], url
    assert response.headers.get("content-security-policy"), (
        f"{url} sends no Content-Security-Policy"
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_sdr_pages_show_payloads_as_text(new_page, live_server):
    world = _world()
    page = new_page()
    _login(page, live_server, "ada")
    base = live_server.url

    _visit(page, f"{base}/queue/", shows=(FIRST, LAST, COMPANY))
    _visit(
        page,
        f"{base}/handoffs/{world['pending'].id}/",
        shows=(FIRST, LAST, TITLE, COMPANY, NOTE, JS_URL, SLA),
    )
    _visit(
        page,
        f"{base}/handoffs/{world['rejected'].id}/",
        shows=(FIRST, LAST, FEEDBACK),
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_marketing_pages_show_payloads_as_text(new_page, live_server):
    world = _world()
    page = new_page()
    _login(page, live_server, "maya")
    base = live_server.url

    _visit(page, f"{base}/leads/", shows=(FIRST, LAST, COMPANY))
    _visit(page, f"{base}/leads/?q=acme", shows=(FIRST, LAST))
    for lead in world["leads"]:
        _visit(
            page,
            f"{base}/leads/{lead.id}/",
            shows=(FIRST, LAST, TITLE, COMPANY, RULE, JS_URL),
        )
    _visit(page, f"{base}/leads/{world['leads'][1].id}/", shows=(FEEDBACK,))
    _visit(page, f"{base}/scoring/", shows=(MODEL,))
    _visit(page, f"{base}/scoring/{world['draft'].id}/", shows=(MODEL, RULE))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_admin_pages_show_payloads_as_text(new_page, live_server):
    world = _world()
    page = new_page()
    _login(page, live_server, "root")
    base = live_server.url
    lead = world["leads"][0]

    _visit(page, f"{base}/reports/sla/", shows=(TEAM,))
    _visit(page, f"{base}/admin/leads/lead/", shows=(FIRST,))
    _visit(
        page,
        f"{base}/admin/leads/lead/{lead.id}/change/",
        inputs={"first_name": FIRST, "last_name": LAST, "job_title": TITLE},
    )
    _visit(page, f"{base}/admin/leads/account/", shows=(COMPANY,))
    _visit(
        page,
        f"{base}/admin/leads/account/{world['account'].id}/change/",
        inputs={"name": COMPANY},
    )
    _visit(page, f"{base}/admin/leads/touchpoint/")
    touchpoint = lead.touchpoints.order_by("id").first()
    _visit(
        page,
        f"{base}/admin/leads/touchpoint/{touchpoint.id}/change/",
        shows=(JS_URL,),
    )
    _visit(page, f"{base}/admin/handoff/handoff/", shows=(SLA,))
    _visit(
        page,
        f"{base}/admin/handoff/handoff/{world['rejected'].id}/change/",
        shows=(FEEDBACK,),
    )
    _visit(page, f"{base}/admin/handoff/contactattempt/")
    _visit(
        page,
        f"{base}/admin/handoff/contactattempt/{world['attempt'].id}/change/",
        shows=(NOTE,),
    )
    _visit(page, f"{base}/admin/handoff/team/", shows=(TEAM,))
    _visit(page, f"{base}/admin/handoff/servicelevelagreement/", shows=(SLA,))


# CSV downloads: formula cells neutralised
# ------------------------------------------------------------------------------

#: Cell values a spreadsheet would run, and what the download must hold.
FORMULAS = {
    "first_name": ('=HYPERLINK("http://x.example","click")', "'=HYPERLINK("),
    "last_name": ("+1+cmd|' /C calc'!A0", "'+1+cmd"),
    "job_title": ("-2+3", "'-2+3"),
    "utm_campaign": ("@SUM(1+1)", "'@SUM(1+1)"),
    "utm_source": ("\t=1+1", "'\t=1+1"),
    "utm_medium": ("\r=1+1", "'\r=1+1"),
}


def _formula_lead() -> Lead:
    return LeadFactory(
        email="eve@evil.example",
        account=AccountFactory(name="=cmd|'/C calc'!A0", domain="evil.example"),
        **{name: value for name, (value, _) in FORMULAS.items()},
    )


def _csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def _assert_neutralised(row: dict[str, str]) -> None:
    for name, (_, expected) in FORMULAS.items():
        assert row[name].startswith(expected), (name, row[name])
    assert row["company"] == "'=cmd|'/C calc'!A0"
    for name, value in row.items():
        assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (name, value)


@pytest.mark.django_db
def test_lead_list_csv_download_neutralises_formulas(client):
    _formula_lead()
    client.force_login(UserFactory(username="maya", roles=[MARKETING]))

    response = client.get("/leads/csv/")

    assert response.status_code == 200
    (row,) = _csv_rows(b"".join(response.streaming_content))
    assert row["first_name"].startswith("'=HYPERLINK(")
    _assert_neutralised(row)


@pytest.mark.django_db
def test_api_csv_export_neutralises_formulas():
    _formula_lead()
    api = APIClient()
    token = Token.objects.create(user=UserFactory(username="maya", roles=[MARKETING]))
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    response = api.get("/api/v1/leads/csv/")

    assert response.status_code == 200
    (row,) = _csv_rows(b"".join(response.streaming_content))
    assert row["first_name"].startswith("'=HYPERLINK(")
    _assert_neutralised(row)


REJECTED_FILE = (
    "email,first_name,=cmd,employee_count\n"
    "ok@acme.example,Ok,x,10\n"
    'bad@acme.example,=HYPERLINK("http://x.example"),@SUM(1),-5\n'
)


@pytest.mark.django_db
def test_rejected_rows_csv_neutralises_formulas(client):
    job = import_job_create(
        kind=ImportJob.Kind.LEADS,
        filename="leads.csv",
        content=REJECTED_FILE.encode(),
        keep_unmapped=True,
        enqueue=False,
    )
    job = import_job_run(job_id=job.id) or job
    assert job.rows_rejected == 1
    client.force_login(UserFactory(username="maya", roles=[MARKETING]))

    response = client.get(f"/leads/import/{job.id}/rejected.csv")

    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "line",
        "reason",
        "email",
        "first_name",
        "'=cmd",
        "employee_count",
    ]
    assert rows[1][0] == "3"
    assert rows[1][2:] == [
        "bad@acme.example",
        '\'=HYPERLINK("http://x.example")',
        "'@SUM(1)",
        "'-5",
    ]


@pytest.mark.django_db
def test_rejected_rows_file_imports_again_as_it_was():
    """The quote the download adds is dropped on import: the values round-trip."""
    job = import_job_create(
        kind=ImportJob.Kind.LEADS,
        filename="leads.csv",
        content=REJECTED_FILE.encode(),
        keep_unmapped=True,
        enqueue=False,
    )
    job = import_job_run(job_id=job.id) or job
    out = io.StringIO()
    import_job_rejects_write(job, out)
    fixed = out.getvalue().replace(",'-5", ",5")

    again = import_job_create(
        kind=ImportJob.Kind.LEADS,
        filename="rejected.csv",
        content=fixed.encode(),
        mapping={"line": "", "reason": ""},
        keep_unmapped=False,
        enqueue=False,
    )
    again = import_job_run(job_id=again.id) or again

    assert again.columns == [
        "line",
        "reason",
        "email",
        "first_name",
        "=cmd",
        "employee_count",
    ]
    assert (again.rows_created, again.rows_rejected) == (1, 0)
    lead = Lead.objects.get(email="bad@acme.example")
    assert lead.first_name == '=HYPERLINK("http://x.example")'
