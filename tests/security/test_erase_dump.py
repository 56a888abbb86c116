"""GDPR erase proven on a full database dump.

One person with everything the product can store about them (an import
whose CSV and rejected rows hold them, a public form submission, touchpoints
with free-form properties, attributes, stage history, scores and their
history, two handoffs with feedback, contact attempts with notes, a sales
outcome, a duplicate merged into them, audit rows, the admin's change log).
Their export must cover every model that points at a lead or its handoffs
(found through ``_meta``, so a new related model fails here until the export
covers it). After the erase, a dump of the whole database (``pg_dump
--data-only`` on PostgreSQL; every row of every table through Django's
connection on any database) holds none of their e-mail, names or phone,
while every table keeps its number of rows (the audit log gains the erase).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess  # nosec B404: runs /usr/bin/pg_dump with fixed arguments
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.db.models import Q
from rest_framework.test import APIClient

from crm.privacy.erasure import lead_erase
from crm.privacy.export import lead_personal_data_export
from crm.roles import ADMIN, SALES
from handoff import services as handoff_services
from handoff.models import ContactAttempt, Handoff, HandoffEvent, SalesOutcome
from leads import lifecycle
from leads.ingestion import TouchpointIn, touchpoints_ingest
from leads.models import (
    AttributionMark,
    AuditEvent,
    ImportJob,
    Lead,
    LeadRank,
    Stage,
    StageTransition,
    Touchpoint,
    Visitor,
    WebForm,
)
from leads.services import lead_create
from scoring.models import LeadScore, LeadScoreHistory
from scoring.selectors import model_active
from tests.factories import SlaFactory, TeamMemberFactory, UserFactory

PG_DUMP = "/usr/bin/pg_dump"
EMAIL = "zebulon.quixotic@northwind-dump.example"
#: A personal domain: the account made from it is named after the person.
OLD_EMAIL = "zq.old@quixotic-family.example"
FIRST, LAST, PHONE = "Zebulon", "Quixotic", "+1 555 0142 977"
#: Written the way people write them elsewhere: upper case, digits only.
NEEDLES = [EMAIL, OLD_EMAIL, FIRST, LAST, PHONE, "15550142977"]
OTHER = "ada.lovelace@analytical-dump.example"
MONDAY_10 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)

#: Export key of every model that points at a lead, or at a lead's handoff.
EXPORTED_AS = {
    Touchpoint: "touchpoints",
    Visitor: "visitors",
    StageTransition: "stage_history",
    LeadScore: "scores",
    LeadScoreHistory: "score_history",
    Handoff: "handoffs",
    HandoffEvent: "handoff_events",
    ContactAttempt: "contact_attempts",
    SalesOutcome: "sales_outcomes",
    Lead: "merged_leads",  # Lead.merged_into: duplicates folded into this one
}


def _related_rows(lead: Lead) -> dict[Any, int]:
    """Rows pointing at the lead or its handoffs, per model, found by ``_meta``.

    A model with several such keys (a sales outcome names the lead and the
    handoff) counts each row once.
    """
    pointers: dict[Any, Q] = {}
    for owner, ids in ((Lead, [lead.id]), (Handoff, _handoff_ids(lead))):
        for relation in owner._meta.related_objects:
            model = relation.related_model
            condition = Q(**{f"{relation.field.name}__in": ids})
            pointers[model] = pointers.get(model, Q(pk__in=[])) | condition
    return {
        model: model._default_manager.filter(condition).distinct().count()
        for model, condition in pointers.items()
    }


def _handoff_ids(lead: Lead) -> list[int]:
    return list(Handoff.objects.filter(lead=lead).values_list("id", flat=True))


def _person(tmp_path: Path) -> Lead:
    """Build the person through the product's own entry points."""
    sla = SlaFactory(accept_within_hours=8)
    sdr = TeamMemberFactory(team=sla.team, user__username="sid").user
    rep = UserFactory(username="rae", roles=[SALES])

    # An import creates them; a repeated line of theirs is rejected and kept.
    path = tmp_path / "people.csv"
    path.write_text(
        "email,first_name,last_name,phone,job_title\n"
        f"{EMAIL},{FIRST},{LAST},{PHONE},Chief {LAST} Officer\n"
        f"{OTHER},Ada,Lovelace,+44 20 7946 0000,Analyst\n"
        f"{EMAIL.upper()},{FIRST},{LAST},{PHONE},Chief {LAST} Officer\n"
    )
    call_command("import_leads", str(path), stdout=None)
    lead = Lead.objects.get(email__iexact=EMAIL)
    Lead.objects.filter(id=lead.id).update(
        attributes={"preferred_name": FIRST, "assistant_phone": PHONE},
        utm_term=f"{FIRST} {LAST}",
    )

    # A public form submission: their answers land in the touchpoint.
    cache.clear()
    WebForm.objects.create(key="contact", name="Contact", kind_id="form_submit")
    submitted = APIClient().post(
        "/api/v1/forms/contact/submit/",
        {
            "email": EMAIL,
            "first_name": FIRST,
            "last_name": LAST,
            "phone": PHONE,
            "message": f"Please call {FIRST} {LAST} on {PHONE} or {EMAIL}",
        },
        format="json",
    )
    assert submitted.status_code == 202

    # Touchpoints whose external ids were made from their address and name
    # by the sending system (any letter case).
    stored = touchpoints_ingest(
        items=[
            TouchpointIn(
                kind="page_view", lead_email=EMAIL, external_id=f"signup-{EMAIL}"
            ),
            TouchpointIn(
                kind="page_view",
                lead_email=EMAIL,
                external_id=f"crm:{EMAIL.upper()}:2",
            ),
            TouchpointIn(
                kind="page_view",
                lead_email=EMAIL,
                external_id=f"webinar-{FIRST.lower()}-{LAST.lower()}",
            ),
            TouchpointIn(kind="page_view", lead_email=EMAIL, external_id="evt-000421"),
        ],
        source="api",
    )
    assert [o.status for o in stored] == ["created"] * 4

    # A stage move whose reason, typed by a person, names them.
    lifecycle.lead_move(
        lead_id=lead.id,
        to_stage=Stage.NURTURE,
        system_actor="admin",
        reason=f"{FIRST} asked to wait; call {PHONE}",
    )
    Lead.objects.filter(id=lead.id).update(recycle_until=None)

    # Scores: a rule on a free-form attribute matched their name.
    model = model_active()
    LeadScore.objects.update_or_create(
        lead=lead,
        model=model,
        defaults={
            "total": 70,
            "fit_score": 40,
            "engagement_score": 30,
            "grade": "B",
            "breakdown": [
                {
                    "rule": 1,
                    "label": "Known by name",
                    "kind": "fit",
                    "points": "40.00",
                    "attribute": "attributes.preferred_name",
                    "value": FIRST,
                }
            ],
            "gated_by": [],
            "computed_at": MONDAY_10,
        },
    )
    LeadScoreHistory.objects.create(
        lead=lead, model=model, total=70, fit_score=40, engagement_score=30,
        at=MONDAY_10,
    )  # fmt: skip

    # First MQL: accepted, then sent back by sales with feedback about them.
    lifecycle.lead_move(lead_id=lead.id, to_stage=Stage.MQL, system_actor="scoring")
    first = handoff_services.handoff_open(lead_id=lead.id)
    handoff_services.attempt_log(
        handoff_id=first.id,
        actor=sdr,
        channel="call",
        outcome="connected",
        note=f"Spoke to {FIRST}; mobile {PHONE}",
    )
    handoff_services.handoff_accept(handoff_id=first.id, actor=sdr, owner=rep)
    handoff_services.lead_sales_move(
        lead_id=lead.id,
        actor=rep,
        reason="sales_no_budget",
        feedback=f"{FIRST} {LAST} has no budget this year",
    )

    # Second MQL: rejected with feedback naming them.
    Lead.objects.filter(id=lead.id).update(recycle_until=None)
    lifecycle.lead_move(
        lead_id=lead.id,
        to_stage=Stage.MQL,
        system_actor="scoring",
    )
    second = handoff_services.handoff_open(lead_id=lead.id)
    handoff_services.handoff_reject(
        handoff_id=second.id,
        actor=sdr,
        reason="no_budget",
        feedback=f"{LAST} again: call {PHONE} next year",
    )

    # An old address of theirs, merged into this lead as a duplicate.
    old = lead_create(email=OLD_EMAIL, first_name=FIRST, last_name=LAST, phone=PHONE)
    assert old.account.name == "Quixotic Family"
    lifecycle.lead_move(lead_id=old.id, to_stage=Stage.MQL, system_actor="scoring")
    dup = handoff_services.handoff_open(lead_id=old.id)
    handoff_services.handoff_reject(
        handoff_id=dup.id, actor=sdr, reason="duplicate", duplicate_of=lead.id
    )

    # The admin's change log names the lead by its name.
    LogEntry.objects.create(
        user=UserFactory(username="root", is_staff=True, is_superuser=True),
        content_type=ContentType.objects.get_for_model(Lead),
        object_id=str(lead.id),
        object_repr=str(Lead.objects.get(id=lead.id)),
        action_flag=CHANGE,
        change_message='[{"changed": {"fields": ["Phone"]}}]',
    )
    return Lead.objects.get(id=lead.id)


def _table_counts() -> Counter[str]:
    with connection.cursor() as cursor:
        counts = Counter()
        for table in connection.introspection.table_names(cursor):
            name = connection.ops.quote_name(table)
            cursor.execute(f"SELECT COUNT(*) FROM {name}")  # nosec B608
            counts[table] = cursor.fetchone()[0]
    return counts


def _found(dump: str) -> dict[str, int]:
    """Occurrences of each needle, case-insensitive; bytea read as text too."""
    decoded = [
        bytes.fromhex(hex_text).decode("utf-8", "replace")
        for hex_text in re.findall(r"\\\\?x([0-9a-fA-F]{2,})", dump)
    ]
    text = "\n".join([dump, *decoded]).lower()
    return {needle: text.count(needle.lower()) for needle in NEEDLES}


def _every_row() -> str:
    """Every value of every row of every table, as text (bytes decoded)."""
    parts: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            name = connection.ops.quote_name(table)  # from the catalogue
            cursor.execute(f"SELECT * FROM {name}")  # nosec B608
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value).decode("utf-8", "replace")
                    parts.append(str(value))
    return "\n".join(parts)


def _pg_dump() -> str:
    settings = connection.settings_dict
    command = [
        PG_DUMP,
        "--data-only",
        "--no-owner",
        "--host",
        settings["HOST"] or "127.0.0.1",
        "--port",
        str(settings["PORT"] or 5432),
        "--username",
        settings["USER"],
        settings["NAME"],
    ]
    result = subprocess.run(  # nosec B603: fixed binary, arguments from settings
        command,
        env={**os.environ, "PGPASSWORD": settings["PASSWORD"] or ""},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout


def _export_then_erase(tmp_path: Path) -> tuple[Counter[str], Counter[str], Lead]:
    lead = _person(tmp_path)
    admin = UserFactory(username="ava", roles=[ADMIN])

    export = lead_personal_data_export(lead=lead, actor=admin)

    related = _related_rows(lead)
    # LeadRank is the database's copy of the lead's own stage and score,
    # which the export's lead record carries.
    assert related.pop(LeadRank) == 1
    assert LeadRank.objects.filter(
        lead=lead, stage=export["lead"]["stage"], score=export["lead"]["score"]
    ).exists()
    assert set(related) == set(EXPORTED_AS), "a related model is missing"
    assert {EXPORTED_AS[m]: len(export[EXPORTED_AS[m]]) for m in related} == {
        EXPORTED_AS[m]: n for m, n in related.items()
    }
    assert export["merged_leads"][0]["email"] == OLD_EMAIL
    assert export["lead"]["phone"] == PHONE
    assert [e["action"] for e in export["audit_events"]] == [
        "handoff_accept",
        "sales_move",
        "handoff_reject",
    ]
    # The person is in the database, in the places the erase must reach.
    present = _found(_every_row())
    assert all(present[n] for n in (EMAIL, OLD_EMAIL, FIRST, LAST, PHONE)), present

    before = _table_counts()
    lead_erase(lead=lead, actor=admin)
    after = _table_counts()
    return before, after, lead


def _assert_counts_kept(before: Counter[str], after: Counter[str]) -> None:
    audit, marks = AuditEvent._meta.db_table, AttributionMark._meta.db_table
    assert after[audit] == before[audit] + 1
    # The erasure marks the person's conversion day (one here) for the
    # campaign roll-up to be rebuilt without them.
    assert after[marks] == before[marks] + 1
    assert {t: n for t, n in after.items() if t not in (audit, marks)} == {
        t: n for t, n in before.items() if t not in (audit, marks)
    }
    for model in (Touchpoint, StageTransition, Handoff, ContactAttempt, ImportJob):
        assert after[model._meta.db_table] > 0


@pytest.mark.django_db(transaction=True)
def test_after_erase_no_row_of_any_table_names_the_person(tmp_path):
    before, after, lead = _export_then_erase(tmp_path)

    assert _found(_every_row()) == dict.fromkeys(NEEDLES, 0)
    _assert_counts_kept(before, after)
    # Only the person went: the other row of their import is still there.
    assert OTHER in _every_row()
    # External ids without the person in them still deduplicate deliveries;
    # the ones naming them are replaced, one distinct token each.
    external_ids = sorted(
        Touchpoint.objects.filter(lead=lead, external_id__isnull=False).values_list(
            "external_id", flat=True
        )
    )
    assert len(external_ids) == 4
    assert external_ids[-1] == "evt-000421"
    assert all(re.fullmatch(r"erased-[0-9a-f]{32}", x) for x in external_ids[:3])
    assert len(set(external_ids)) == 4
    # The personal-domain account keeps its facts under a neutral name.
    duplicate = Lead.objects.get(merged_into=lead)
    assert (duplicate.account.name, duplicate.account.domain) == (
        f"Erased account {duplicate.account_id}",
        "",
    )
    event = AuditEvent.objects.get(action="erase")
    assert (event.lead_id, event.details["merged_leads"]) == (
        lead.id,
        [Lead.objects.get(merged_into=lead).id],
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_after_erase_pg_dump_holds_nothing_of_the_person(tmp_path):
    before, after, _ = _export_then_erase(tmp_path)

    dump = _pg_dump()

    assert _found(dump) == dict.fromkeys(NEEDLES, 0)
    assert OTHER in dump.lower()
    _assert_counts_kept(before, after)
