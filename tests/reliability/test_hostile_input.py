# ruff: noqa: E501 - the corpus is a table, one case a line
"""The hostile corpus: bad input at every entry point is a 4xx that names the field.

Reliability rules 5 and 6: what PostgreSQL would refuse (NUL bytes,
lone surrogates, oversize text, impossible dates, numbers out of range) is
refused at the boundary with a field-level message, never a 5xx; a refused
item stores nothing, and the valid items of the same batch are stored.

Each case names its entry point, the payload and the expected answer (status
and the path of the field in the error body). The cases run on SQLite and on
PostgreSQL; on PostgreSQL a value that slipped through would fail as a 500.

Decisions these tests pin down:

* ``occurred_at`` without an offset is refused through the API (a guess could
  shift the event by hours); a CSV file's times without an offset are in the
  server's time zone, as the import page says, because CRM exports never
  carry one.
* E-mail: the domain is stored lower-cased and in its ASCII (IDNA, ``xn--``)
  form, so ``anna@Bücher.example`` and ``anna@xn--bcher-kva.example`` are one
  lead; the local part keeps its case and matching ignores case. A Unicode
  local part (SMTPUTF8) is refused with a message saying so.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm.roles import MARKETING
from leads.exceptions import ImportFileError
from leads.imports.jobs import import_job_create
from leads.imports.run import import_job_run
from leads.models import Account, ImportJob, Lead, Touchpoint, WebForm
from tests.factories import CampaignFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"
TOUCHPOINTS = "/api/v1/touchpoints/"
BATCH = "/api/v1/touchpoints/batch/"
FORM = "/api/v1/forms/contact/submit/"
JSON = "application/json"

#: A valid touchpoint item; cases change one field of it.
GOOD_ITEM = {
    "lead_email": "ok@acme.example",
    "kind": "page_view",
    "occurred_at": "2026-01-05T09:00:00Z",
    "properties": {"url": "https://acme.example/pricing"},
}


def deep(levels: int) -> str:
    """JSON text of ``levels`` nested arrays, as raw text (json.dumps would recurse)."""
    return "[" * levels + "]" * levels


def raw(body: dict[str, Any]) -> bytes:
    """JSON text with every non-ASCII character escaped, as a client writes it.

    ``"\\ud800"`` in the text is a lone surrogate once parsed: json.dumps
    writes it as the escape, so the body itself is valid UTF-8.
    """
    return json.dumps(body).encode()


@dataclass(frozen=True)
class Case:
    """One hostile request and the answer it must get."""

    name: str
    path: str
    body: bytes
    status: int
    #: Where the message sits in the error body: "email", "account.domain",
    #: "detail", or "results[1].errors.properties" for a batch item.
    field: str
    content_type: str = JSON
    method: str = "POST"
    #: For a batch: the positions of the items that must be stored.
    stored: tuple[int, ...] = ()
    #: Words the message must hold, where the wording is the point.
    says: str = ""

    def __str__(self) -> str:  # pytest ids
        return self.name


def lead_body(**fields: Any) -> bytes:
    return raw({"email": "ann@acme.example", **fields})


def item_body(**fields: Any) -> bytes:
    return raw({**GOOD_ITEM, **fields})


def batch_body(bad: dict[str, Any], *, size: int = 3, at: int = 1) -> bytes:
    """A batch whose item ``at`` is ``bad``; the others are valid, distinct leads."""
    items = [
        {**GOOD_ITEM, "lead_email": f"ok{i}@acme.example", "external_id": f"e{i}"}
        for i in range(size)
    ]
    items[at] = {**items[at], **bad}
    return raw({"touchpoints": items})


NESTED_NUL_KEY = {"utm": {"campaign": {"na\u0000me": "spring"}}}

# fmt: off
API_CASES = [
    # NUL bytes in strings and inside free-form JSON
    Case("lead: NUL in first_name", LEADS, lead_body(first_name="Ann\u0000"), 400, "first_name", says="Remove the NUL character"),
    Case("lead: NUL in an attributes value", LEADS, lead_body(attributes={"plan": "pro\u0000"}), 400, "attributes"),
    Case("lead: NUL in a nested attributes key", LEADS, lead_body(attributes=NESTED_NUL_KEY), 400, "attributes"),
    Case("lead: NUL in the e-mail", LEADS, raw({"email": "ann\u0000@acme.example"}), 400, "email"),
    Case("lead: NUL in the account name", LEADS, lead_body(account={"name": "Acme\u0000"}), 400, "account.name"),
    Case("lead: NUL in the owner (a slug lookup)", LEADS, lead_body(owner="maya\u0000"), 400, "owner"),
    Case("touchpoint: NUL in a properties value", TOUCHPOINTS, item_body(properties={"url": "/a\u0000"}), 400, "properties"),
    Case("touchpoint: NUL in a nested properties key", TOUCHPOINTS, item_body(properties=NESTED_NUL_KEY), 400, "properties"),
    Case("touchpoint: NUL in external_id", TOUCHPOINTS, item_body(external_id="x\u0000"), 400, "external_id"),
    Case("touchpoint: NUL in kind", TOUCHPOINTS, item_body(kind="page_view\u0000"), 400, "kind"),
    Case("touchpoint: NUL in a campaign's UTM key", TOUCHPOINTS, item_body(campaign={"utm_campaign": "a\u0000"}), 400, "campaign"),
    # Lone surrogates (valid JSON text, not storable as UTF-8)
    Case("lead: lone surrogate in last_name", LEADS, lead_body(last_name="\ud800"), 400, "last_name", says="unpaired surrogate"),
    Case("lead: lone surrogate in an attributes key", LEADS, lead_body(attributes={"\udfff": 1}), 400, "attributes"),
    Case("touchpoint: lone surrogate in a properties value", TOUCHPOINTS, item_body(properties={"a": ["\ud800"]}), 400, "properties"),
    # Bodies that are not UTF-8 JSON, too deep, too big or of another type
    Case("lead: invalid UTF-8 bytes", LEADS, b'{"email": "ann@acme.example", "first_name": "\xff\xfe"}', 400, "detail", says="not valid utf-8: byte 0xFF at offset 45"),
    Case("touchpoint: invalid UTF-8 bytes", TOUCHPOINTS, b'{"kind": "\xc3\x28"}', 400, "detail"),
    Case("lead: JSON nested 10,000 deep", LEADS, deep(10_000).encode(), 400, "detail", says="nested too deeply"),
    Case("lead: attributes nested 10,000 deep", LEADS, b'{"email": "ann@acme.example", "attributes": {"a": ' + deep(10_000).encode() + b"}}", 400, "detail"),
    Case("batch: JSON nested 10,000 deep", BATCH, b'{"touchpoints": ' + deep(10_000).encode() + b"}", 400, "detail"),
    Case("lead: attributes nested 500 deep (parses, too deep to keep)", LEADS, b'{"email": "ann@acme.example", "attributes": {"a": ' + deep(500).encode() + b"}}", 400, "attributes"),
    Case("lead: a 10 MB body", LEADS, lead_body(attributes={"blob": "x" * 10 * 1024 * 1024}), 413, "detail", says="too large"),
    Case("batch: a 10 MB body", BATCH, raw({"touchpoints": [{**GOOD_ITEM, "properties": {"blob": "x" * 10 * 1024 * 1024}}]}), 413, "detail"),
    Case("lead: text/plain", LEADS, lead_body(), 415, "detail", content_type="text/plain", says='Unsupported media type "text/plain"'),
    Case("lead: form-encoded where JSON is expected", LEADS, b"email=ann%40acme.example", 415, "detail", content_type="application/x-www-form-urlencoded"),
    Case("touchpoint: text/plain", TOUCHPOINTS, item_body(), 415, "detail", content_type="text/plain"),
    Case("batch: multipart where JSON is expected", BATCH, b"--x\r\n\r\n--x--\r\n", 415, "detail", content_type="multipart/form-data; boundary=x"),
    Case("lead: NaN is not JSON", LEADS, b'{"email": "ann@acme.example", "attributes": {"a": NaN}}', 400, "detail", says="NaN is not a number JSON allows"),
    Case("lead: Infinity is not JSON", LEADS, b'{"email": "ann@acme.example", "attributes": {"a": -Infinity}}', 400, "detail", says="-Infinity is not a number JSON allows"),
    Case("lead: 1e400 overflows a float", LEADS, b'{"email": "ann@acme.example", "attributes": {"a": 1e400}}', 400, "detail", says="the number 1e400 is too large"),
    Case("touchpoint: -1e400 in properties", TOUCHPOINTS, item_body(properties={"x": 1}).replace(b'"x": 1', b'"x": -1e400'), 400, "detail", says="the number -1e400 is too large"),
    Case("batch: 1e400 in an item's properties", BATCH, batch_body({"properties": {"x": 1}}).replace(b'"x": 1', b'"x": 1e400'), 400, "detail", says="the number 1e400 is too large"),
    Case("lead: a key given twice", LEADS, b'{"email": "ann@acme.example", "email": "bob@acme.example"}', 400, "detail", says='the key "email" appears more than once'),
    Case("lead: a key given twice in attributes", LEADS, b'{"email": "ann@acme.example", "attributes": {"plan": "a", "plan": "b"}}', 400, "detail", says='the key "plan" appears more than once'),
    # Dates with no offset, in year 0 / 10000, impossible or out of range
    Case("touchpoint: occurred_at without an offset", TOUCHPOINTS, item_body(occurred_at="2026-01-05T09:00:00"), 400, "occurred_at", says="Give a time zone offset"),
    Case("touchpoint: occurred_at in year 0", TOUCHPOINTS, item_body(occurred_at="0000-01-01T00:00:00Z"), 400, "occurred_at"),
    Case("touchpoint: occurred_at in year 10000", TOUCHPOINTS, item_body(occurred_at="10000-01-01T00:00:00Z"), 400, "occurred_at"),
    Case("touchpoint: occurred_at on Feb 30", TOUCHPOINTS, item_body(occurred_at="2026-02-30T09:00:00Z"), 400, "occurred_at"),
    Case("touchpoint: occurred_at in year 1 east of UTC", TOUCHPOINTS, item_body(occurred_at="0001-01-01T00:00:00+05:00"), 400, "occurred_at", says="before the year 2000"),
    Case("touchpoint: occurred_at in year 9999 west of UTC", TOUCHPOINTS, item_body(occurred_at="9999-12-31T23:59:59-05:00"), 400, "occurred_at", says="in the future"),
    Case("touchpoint: occurred_at as a number", TOUCHPOINTS, item_body(occurred_at=1767600000), 400, "occurred_at"),
    # Oversize strings and numbers out of range
    Case("lead: first_name over 100 characters", LEADS, lead_body(first_name="A" * 101), 400, "first_name"),
    Case("lead: job_title over 200 characters", LEADS, lead_body(job_title="T" * 201), 400, "job_title"),
    Case("lead: e-mail over 254 characters", LEADS, raw({"email": "a" * 250 + "@acme.example"}), 400, "email"),
    Case("lead: account domain over 253 characters", LEADS, lead_body(account={"domain": "a" * 250 + ".example"}), 400, "account.domain"),
    Case("lead: attributes over 16 KB", LEADS, lead_body(attributes={"a": "x" * 20_000}), 400, "attributes"),
    Case("lead: employee_count beyond 64 bits", LEADS, lead_body(account={"name": "Acme", "employee_count": 2**70}), 400, "account.employee_count"),
    Case("lead: negative employee_count", LEADS, lead_body(account={"name": "Acme", "employee_count": -1}), 400, "account.employee_count"),
    Case("lead: annual_revenue beyond 16 digits", LEADS, lead_body(account={"name": "Acme", "annual_revenue": "1e30"}), 400, "account.annual_revenue"),
    Case("lead: a 5,000-digit integer in attributes", LEADS, b'{"email": "ann@acme.example", "attributes": {"n": ' + b"9" * 5000 + b"}}", 400, "detail"),
    Case("touchpoint: lead id beyond 64 bits", TOUCHPOINTS, raw({"lead": 2**63, "kind": "page_view"}), 400, "lead"),
    Case("touchpoint: campaign id beyond 64 bits", TOUCHPOINTS, item_body(campaign=2**64), 400, "campaign"),
    Case("touchpoint: external_id over 200 characters", TOUCHPOINTS, item_body(external_id="x" * 201), 400, "external_id"),
    Case("touchpoint: properties over 16 KB", TOUCHPOINTS, item_body(properties={"a": "x" * 20_000}), 400, "properties"),
    # E-mails
    Case("lead: Unicode local part", LEADS, raw({"email": "jürgen@acme.example"}), 400, "email", says="before the @ is plain ASCII"),
    Case("touchpoint: Unicode local part in lead_email", TOUCHPOINTS, item_body(lead_email="jürgen@acme.example"), 400, "lead_email"),
    Case("lead: no domain", LEADS, raw({"email": "ann@"}), 400, "email"),
    # Batches: the limit, and one bad item among valid ones (answered per item)
    Case("batch: 1,001 items", BATCH, raw({"touchpoints": [GOOD_ITEM] * 1001}), 400, "touchpoints", says="no more than 1000"),
    Case("batch: NUL in item 1's properties", BATCH, batch_body({"properties": {"a": "\u0000"}}), 200, "results[1].errors.properties", stored=(0, 2)),
    Case("batch: NUL in a nested properties key of item 3", BATCH, batch_body({"properties": NESTED_NUL_KEY}, size=5, at=3), 200, "results[3].errors.properties", stored=(0, 1, 2, 4)),
    Case("batch: lone surrogate in item 1's kind", BATCH, batch_body({"kind": "\ud800"}), 200, "results[1].errors.kind", stored=(0, 2)),
    Case("batch: item 1 without an offset", BATCH, batch_body({"occurred_at": "2026-01-05 09:00"}), 200, "results[1].errors.occurred_at", stored=(0, 2)),
    Case("batch: item 1 on Feb 30", BATCH, batch_body({"occurred_at": "2026-02-30T09:00:00Z"}), 200, "results[1].errors.occurred_at", stored=(0, 2)),
    Case("batch: item 1 with a Unicode local part", BATCH, batch_body({"lead_email": "jürgen@acme.example"}), 200, "results[1].errors.lead_email", stored=(0, 2)),
    Case("batch: item 1 is not an object", BATCH, raw({"touchpoints": [GOOD_ITEM, "x"]}), 400, "touchpoints.1"),
    Case("batch: item 0 with properties nested 500 deep", BATCH, b'{"touchpoints": [{"lead_email": "a@acme.example", "kind": "page_view", "properties": {"a": ' + deep(500).encode() + b'}}, {"lead_email": "b@acme.example", "kind": "page_view"}]}', 200, "results[0].errors.properties", stored=(1,)),
]
# fmt: on


@pytest.fixture
def api() -> APIClient:
    user = UserFactory(username="maya", roles=[MARKETING])
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def rows() -> tuple[int, int, int]:
    return Lead.objects.count(), Account.objects.count(), Touchpoint.objects.count()


def messages_at(body: Any, path: str) -> list[str]:
    """The messages at ``path`` (``a.b``, ``results[1].errors.x``) of an error body."""
    node = body
    for part in path.replace("[", ".").replace("]", "").split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, dict):  # a nested serializer's non_field_errors
        node = [m for messages in node.values() for m in messages]
    return node if isinstance(node, list) else [node]


def assert_field_message(body: Any, path: str, says: str = "") -> None:
    messages = messages_at(body, path)
    assert messages, f"no message at {path}: {body}"
    for message in messages:
        assert isinstance(message, str)
        assert len(message) > 10, f"not a message a person can act on: {message!r}"
    assert says in " ".join(messages)


@pytest.mark.parametrize("case", API_CASES, ids=str)
def test_hostile_api_input_is_a_4xx_naming_the_field(api, case):
    before = rows()

    response = api.generic(
        case.method, case.path, case.body, content_type=case.content_type
    )

    assert response.status_code == case.status, response.content[:500]
    body = response.json()
    assert_field_message(body, case.field, case.says)
    if case.path != BATCH or case.status != 200:
        assert rows() == before
        return
    results = body["results"]
    stored = tuple(r["index"] for r in results if r["status"] == "created")
    assert stored == case.stored
    assert body["invalid"] == len(results) - len(case.stored)
    assert Touchpoint.objects.count() == len(case.stored)
    # Only the valid items' leads exist: the refused item created nothing.
    sent = json.loads(case.body)["touchpoints"]
    assert sorted(Lead.objects.values_list("email", flat=True)) == sorted(
        sent[i]["lead_email"] for i in case.stored
    )


@pytest.mark.parametrize(
    ("body", "status", "path"),
    [
        ({"first_name": "Ann\u0000"}, 400, "first_name"),
        ({"attributes": {"k": {"v\u0000": 1}}}, 400, "attributes"),
        ({"last_name": "\ud800"}, 400, "last_name"),
        ({"job_title": "T" * 201}, 400, "job_title"),
        (
            {"account": {"name": "A", "employee_count": 2**70}},
            400,
            "account.employee_count",
        ),
        ({"email": "other@acme.example"}, 400, "email"),
    ],
)
def test_hostile_patch_is_refused_and_changes_nothing(api, body, status, path):
    lead = LeadFactory(email="ann@acme.example", first_name="Ann", last_name="Lee")
    before = Lead.objects.values().get(id=lead.id)

    response = api.generic("PATCH", f"{LEADS}{lead.id}/", raw(body), content_type=JSON)

    assert response.status_code == status
    assert_field_message(response.json(), path)
    assert Lead.objects.values().get(id=lead.id) == before
    assert Account.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (deep(10_000).encode(), JSON, 400),
        (b'{"first_name": "\xff"}', JSON, 400),
        (b"first_name=Ann", "application/x-www-form-urlencoded", 415),
    ],
)
def test_patch_with_an_unreadable_body_is_refused(api, body, content_type, status):
    lead = LeadFactory(email="ann@acme.example", first_name="Ann")

    response = api.generic(
        "PATCH", f"{LEADS}{lead.id}/", body, content_type=content_type
    )

    assert response.status_code == status
    assert_field_message(response.json(), "detail")
    lead.refresh_from_db()
    assert lead.first_name == "Ann"


# E-mails: letter case and Unicode
# ------------------------------------------------------------------------------


def test_mixed_case_emails_upsert_one_lead_with_a_lower_cased_domain(api):
    first = api.post(LEADS, {"email": "Ann.Lee@ACME.Example"}, format="json")
    again = api.post(
        LEADS, {"email": "ann.lee@acme.example", "job_title": "CMO"}, format="json"
    )
    touch = api.post(
        TOUCHPOINTS,
        {**GOOD_ITEM, "lead_email": "ANN.LEE@acme.EXAMPLE"},
        format="json",
    )

    assert (first.status_code, again.status_code, touch.status_code) == (201, 200, 201)
    lead = Lead.objects.get()
    assert lead.email == "Ann.Lee@acme.example"
    assert lead.job_title == "CMO"
    assert Touchpoint.objects.get().lead_id == lead.id
    assert Account.objects.get().domain == "acme.example"


def test_idn_domain_is_stored_in_ascii_and_matches_its_punycode_spelling(api):
    first = api.post(LEADS, {"email": "Anna@Bücher.Example"}, format="json")
    again = api.post(
        LEADS,
        {"email": "anna@xn--bcher-kva.example", "first_name": "Anna"},
        format="json",
    )

    assert (first.status_code, again.status_code) == (201, 200)
    lead = Lead.objects.get()
    assert lead.email == "Anna@xn--bcher-kva.example"
    assert lead.first_name == "Anna"
    assert Account.objects.get().domain == "xn--bcher-kva.example"


def test_unicode_local_part_message_says_why(api):
    response = api.post(LEADS, {"email": "jürgen@acme.example"}, format="json")

    assert response.status_code == 400
    (message,) = response.json()["email"]
    assert "before the @" in message
    assert not Lead.objects.exists()


# The public web form
# ------------------------------------------------------------------------------


@pytest.fixture
def web_form() -> WebForm:
    cache.clear()  # the rate limit's history
    yield WebForm.objects.create(
        key="contact",
        name="Contact us",
        kind_id="form_submit",
        campaign=CampaignFactory(name="Website"),
        allowed_origins="https://www.example.com",
    )
    cache.clear()


# fmt: off
FORM_CASES = [
    Case("form: NUL in first_name (JSON)", FORM, raw({"email": "ann@acme.example", "first_name": "A\u0000"}), 400, "first_name"),
    Case("form: NUL in first_name (form-encoded)", FORM, b"email=ann%40acme.example&first_name=A%00", 400, "first_name", content_type="application/x-www-form-urlencoded"),
    Case("form: NUL in an extra field's name", FORM, b"email=ann%40acme.example&pl%00an=pro", 400, "pl\u0000an", content_type="application/x-www-form-urlencoded"),
    Case("form: NUL inside a nested extra field", FORM, raw({"email": "ann@acme.example", "answers": {"q\u0000": "a"}}), 400, "answers"),
    Case("form: lone surrogate in last_name", FORM, raw({"email": "ann@acme.example", "last_name": "\udc00"}), 400, "last_name"),
    Case("form: invalid UTF-8 in a JSON body", FORM, b'{"email": "\xff@acme.example"}', 400, "detail"),
    Case("form: invalid UTF-8 in a form-encoded body", FORM, b"email=ann%40acme.example&first_name=%FF%FE", 400, "first_name", content_type="application/x-www-form-urlencoded", says="not valid utf-8 text"),
    Case("form: JSON nested 10,000 deep", FORM, b'{"email": "ann@acme.example", "x": ' + deep(10_000).encode() + b"}", 400, "detail"),
    Case("form: a 10 MB body", FORM, raw({"email": "ann@acme.example", "note": "x" * 10 * 1024 * 1024}), 413, "detail", says="at most 64 KB"),
    Case("form: text/plain", FORM, b"email=ann@acme.example", 415, "detail", content_type="text/plain"),
    Case("form: Unicode local part", FORM, raw({"email": "jürgen@acme.example"}), 400, "email"),
    Case("form: first_name over 100 characters", FORM, raw({"email": "ann@acme.example", "first_name": "A" * 101}), 400, "first_name"),
    Case("form: company over 200 characters", FORM, raw({"email": "ann@acme.example", "company": "C" * 201}), 400, "company"),
    Case("form: a JSON array, not an object", FORM, b"[1, 2]", 400, "non_field_errors"),
    Case("form: 1e400 in an extra field", FORM, b'{"email": "ann@acme.example", "budget": 1e400}', 400, "detail", says="the number 1e400 is too large"),
    Case("form: Infinity in an extra field", FORM, b'{"email": "ann@acme.example", "budget": Infinity}', 400, "detail", says="Infinity is not a number JSON allows"),
    Case("form: the e-mail given twice", FORM, b'{"email": "ann@acme.example", "email": "bob@acme.example"}', 400, "detail", says='the key "email" appears more than once'),
]
# fmt: on


@pytest.mark.parametrize("case", FORM_CASES, ids=str)
def test_hostile_form_submission_is_a_4xx_naming_the_field(web_form, case):
    response = APIClient().generic(
        "POST", case.path, case.body, content_type=case.content_type
    )

    assert response.status_code == case.status, response.content[:500]
    assert_field_message(response.json(), case.field, case.says)
    assert rows() == (0, 0, 0)


# CSV import: the service, the upload page and the commands
# ------------------------------------------------------------------------------


def import_csv(
    content: bytes, *, kind: str = ImportJob.Kind.LEADS, time_zone: str = ""
) -> ImportJob:
    job = import_job_create(
        kind=kind,
        filename="file.csv",
        content=content,
        time_zone=time_zone,
        enqueue=False,
    )
    return import_job_run(job_id=job.id) or job


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"email,first_name\nann@acme.example,J\xf6rg\n",
            "byte 0xF6 at offset 35 (line 2)",
        ),
        (
            b"email,first_name\nann@acme.example,\xed\xa0\x80\n",
            "byte 0xED at offset 34",
        ),
        (b"\xff\xfee\x00m\x00", "byte 0xFF at offset 0 (line 1)"),
        (b"em\x00ail,first_name\nann@acme.example,Ann\n", "NUL characters"),
        (b"", "The file is empty"),
    ],
)
def test_csv_file_that_cannot_be_read_is_refused_whole(content, message):
    with pytest.raises(ImportFileError) as raised:
        import_job_create(
            kind=ImportJob.Kind.LEADS, filename="f.csv", content=content, enqueue=False
        )

    assert message in str(raised.value)
    assert (ImportJob.objects.count(), *rows()) == (0, 0, 0, 0)


def test_csv_with_a_bom_maps_its_first_column():
    job = import_csv(b"\xef\xbb\xbfemail,first_name\nann@acme.example,Ann\n")

    assert job.columns == ["email", "first_name"]
    assert (job.status, job.rows_created, job.rows_rejected) == ("done", 1, 0)
    assert Lead.objects.values_list("email", "first_name").get() == (
        "ann@acme.example",
        "Ann",
    )


LEAD_ROWS = "email,first_name,job_title,employee_count\n"


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        ("bad@acme.example,A\x00n,,", "first_name: Remove the NUL character"),
        ("bad@acme.example," + "A" * 101 + ",,", "first_name:"),
        ("bad@acme.example,Ann," + "T" * 201 + ",", "job_title:"),
        ("bad@acme.example,Ann,,99999999999999999999", "employee_count:"),
        ("bad@acme.example,Ann,,-5", "employee_count:"),
        ("jürgen@acme.example,Ann,,", "email:"),
        ("bad@acme.example,Ann", "This row has 2 cells"),
    ],
)
def test_csv_bad_lead_row_is_rejected_and_the_others_stored(bad_row, reason):
    content = (
        LEAD_ROWS + "one@acme.example,One,,\n" + bad_row + "\ntwo@acme.example,Two,,\n"
    ).encode()

    job = import_csv(content)

    assert (job.rows_created, job.rows_rejected) == (2, 1)
    (reject,) = job.rejected_rows
    assert reject["line"] == 3
    assert reason in reject["reason"]
    assert sorted(Lead.objects.values_list("email", flat=True)) == [
        "one@acme.example",
        "two@acme.example",
    ]


def test_csv_time_without_offset_is_refused_unless_the_import_names_a_zone(
    settings,
):
    # The server's zone is not the file's: it is never guessed.
    settings.TIME_ZONE = "Europe/Berlin"
    content = b"email,kind,occurred_at\na@acme.example,page_view,2026-01-05 09:00\n"

    refused = import_csv(content, kind=ImportJob.Kind.TOUCHPOINTS)
    read = import_csv(
        content, kind=ImportJob.Kind.TOUCHPOINTS, time_zone="America/New_York"
    )

    assert (refused.rows_created, refused.rows_rejected) == (0, 1)
    assert "'2026-01-05 09:00' has no time zone" in refused.rejected_rows[0]["reason"]
    assert (read.rows_created, read.rows_rejected) == (1, 0)
    assert Touchpoint.objects.get().occurred_at == dt.datetime(
        2026, 1, 5, 14, 0, tzinfo=dt.UTC
    )


def test_csv_mixed_case_emails_are_one_lead():
    LeadFactory(email="Ann@acme.example", first_name="")

    job = import_csv(
        b"email,first_name\nANN@ACME.example,Ann\nann@acme.EXAMPLE,Annie\n"
    )

    # The file's first row updates the known lead; the second names the first.
    assert (job.rows_updated, job.rows_created) == (1, 0)
    (reject,) = job.rejected_rows
    assert reject["line"] == 3
    assert "already on line 2" in reject["reason"]
    assert Lead.objects.values_list("email", "first_name").get() == (
        "Ann@acme.example",
        "Ann",
    )


TOUCH_ROWS = "email,kind,occurred_at\n"


@pytest.mark.parametrize(
    "when",
    [
        "2026-02-30 09:00",
        "0000-01-01",
        "10000-01-01",
        "1999-12-31T23:00:00Z",
        "2/30/2026",
    ],
)
def test_csv_touchpoint_with_an_impossible_date_is_rejected(when):
    content = (
        TOUCH_ROWS
        + "a@acme.example,page_view,2026-01-05T09:00:00Z\n"
        + f"b@acme.example,page_view,{when}\n"
    ).encode()

    job = import_csv(content, kind=ImportJob.Kind.TOUCHPOINTS)

    assert (job.rows_created, job.rows_rejected) == (1, 1)
    (reject,) = job.rejected_rows
    assert reject["line"] == 3
    assert reject["reason"].startswith("occurred_at: ")
    assert Touchpoint.objects.get().lead.email == "a@acme.example"
    assert not Lead.objects.filter(email="b@acme.example").exists()


@pytest.fixture
def marketer_client(client):
    client.force_login(UserFactory(username="mia", roles=[MARKETING]))
    return client


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"email\n\xff\xfe@acme.example\n", "byte 0xFF at offset 6 (line 2)"),
        (b"em\x00ail\nann@acme.example\n", "NUL characters"),
        (b"PK\x03\x04rest", "an Excel workbook"),
    ],
)
def test_upload_page_names_the_file_problem(marketer_client, content, error):
    response = marketer_client.post(
        "/leads/import/",
        {
            "kind": "leads",
            "preset": "leadflow",
            "encoding": "utf-8",
            "file": SimpleUploadedFile("leads.csv", content, "text/csv"),
        },
    )

    # An HTML form page answers 200 with the error next to the field.
    assert response.status_code == 200
    (message,) = response.context["form"].errors["file"]
    assert error in message
    assert ImportJob.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "field_name"),
    [
        ({"encoding": "utf-8\x00"}, "encoding"),
        ({"encoding": "x" * 41}, "encoding"),
        ({"kind": "people"}, "kind"),
        ({"preset": "excel"}, "preset"),
    ],
)
def test_upload_page_refuses_bad_options(marketer_client, fields, field_name):
    data = {
        "kind": "leads",
        "preset": "leadflow",
        "encoding": "utf-8",
        "file": SimpleUploadedFile("leads.csv", b"email\na@acme.example\n", "text/csv"),
        **fields,
    }

    response = marketer_client.post("/leads/import/", data)

    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field_name]
    assert ImportJob.objects.count() == 0


def test_upload_page_with_a_bom_maps_the_header(marketer_client):
    response = marketer_client.post(
        "/leads/import/",
        {
            "kind": "leads",
            "preset": "leadflow",
            "encoding": "utf-8",
            "file": SimpleUploadedFile(
                "leads.csv", b"\xef\xbb\xbfemail,first_name\nann@acme.example,Ann\n"
            ),
        },
    )

    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert job.columns == ["email", "first_name"]
    assert job.mapping == {"email": "email", "first_name": "first_name"}


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        ("import_leads", ["{missing}"], "Cannot read"),
        ("import_leads", ["{bad_utf8}"], "byte 0xFF at offset 6 (line 2)"),
        ("import_leads", ["{good}", "--encoding", "klingon"], "Unknown encoding"),
        ("import_leads", ["{good}", "--encoding", "rot13"], "not a text encoding"),
        (
            "import_leads",
            ["{good}", "--encoding", "unicode_escape"],
            "not a text encoding",
        ),
        ("import_leads", ["{good}", "--timezone", "Mars/Base"], "Unknown time zone"),
        ("import_leads", ["{good}", "--preset", "excel"], "invalid choice: 'excel'"),
        ("import_leads", ["{good}", "--map", "email"], '"CSV column=field"'),
        ("import_leads", ["{good}", "--map", "email=shoe_size"], "Unknown field"),
        (
            "import_leads",
            ["{good}", "--rejects", "/no/such/dir/r.csv"],
            "does not exist",
        ),
        ("import_touchpoints", ["{good}"], "Map a column to kind"),
        ("import_touchpoints", ["{folder}"], "Cannot read"),
        ("seed_demo", ["--leads", "-5"], "--leads"),
        ("seed_demo", ["--leads", "0"], "out of range"),
        ("seed_demo", ["--leads", "ten"], "not a whole number"),
        ("seed_demo", ["--today", "2026-02-30"], "not a valid date"),
        ("seed_demo", ["--today", "0000-01-01"], "not a valid date"),
        ("seed_demo", ["--seed", "-1"], "--seed"),
        ("bench_scoring", ["--leads", "-5"], "not a positive whole number"),
        ("bench_scoring", ["--naive-sample", "x"], "not a whole number"),
        ("bench_reports", ["--handoffs", "-5"], "not a positive whole number"),
        ("bench_reports", ["--handoffs", "ten"], "--handoffs"),
        ("bench_ingest", ["--single", "-5"], "must not be negative"),
        ("bench_ingest", ["--batch-size", "1001"], "at most 1000"),
    ],
)
def test_bad_command_options_are_a_command_error(tmp_path, command, args, message):
    paths = {
        "missing": tmp_path / "missing.csv",
        "bad_utf8": tmp_path / "bad.csv",
        "good": tmp_path / "good.csv",
        "folder": tmp_path,
    }
    paths["bad_utf8"].write_bytes(b"email\n\xff\xfe@acme.example\n")
    paths["good"].write_bytes(b"email\nann@acme.example\n")
    argv = [arg.format(**{k: str(v) for k, v in paths.items()}) for arg in args]

    with pytest.raises(CommandError) as raised:
        call_command(command, *argv)

    assert message in str(raised.value)
    assert (ImportJob.objects.count(), *rows()) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"leads": -5}, "--leads"),
        ({"today": "2026-02-30"}, "not a valid date"),
        ({"seed": "x"}, "--seed"),
    ],
)
def test_seed_demo_checks_options_given_as_keywords(options, message):
    with pytest.raises(CommandError) as raised:
        call_command("seed_demo", **options)

    assert message in str(raised.value)
    assert rows() == (0, 0, 0)


def test_import_command_with_a_bom_and_a_bad_row_stores_the_good_rows(tmp_path: Path):
    path = tmp_path / "leads.csv"
    path.write_bytes(
        b"\xef\xbb\xbfemail,first_name\nann@acme.example,Ann\nbad@acme.example,B\x00\n"
    )
    out = tmp_path / "rejects.csv"

    call_command("import_leads", str(path), "--rejects", str(out), stdout=None)

    assert Lead.objects.values_list("email", flat=True).get() == "ann@acme.example"
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "line,reason,email,first_name"
    assert lines[1].startswith("3,first_name: Remove the NUL character")
