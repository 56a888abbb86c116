"""Data a scenario needs in its stack's database, written from inside the stack.

These run in a ``manage.py reliability <step>`` process started by the
scenario with the stack's environment (``Stack.manage``), so they use the
project's own services against the stack's database, never the harness's.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from crm.roles import MARKETING, SDR
from handoff.models import Team, TeamMember
from leads.ingestion import leads_for_emails
from leads.models import Account, Lead, Touchpoint
from scoring import selectors, services
from scoring.models import LeadScore, LeadScoreHistory

#: The e-mail domain of the leads the load writes (pool and new ones).
LOAD_DOMAIN = "reliability.example"
MARKETING_USER = "reliability-marketing"
SDR_USER = "reliability-sdr"


def _user_with_token(username: str, group: str) -> str:
    user, _ = get_user_model().objects.get_or_create(
        username=username, defaults={"email": f"{username}@{LOAD_DOMAIN}"}
    )
    user.groups.set(Group.objects.filter(name=group))
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


@transaction.atomic
def load_prepare(*, pool: int) -> dict[str, Any]:
    """API users (Marketing posts touchpoints, an SDR reads the SAL queue) and
    a pool of ``pool`` existing leads; returns their tokens and the pool's ids.

    The SDR joins every team, so the MQLs the load makes are assigned to it
    and its SAL queue has rows to read. Running it twice reuses everything.
    """
    marketing = _user_with_token(MARKETING_USER, MARKETING)
    sdr = _user_with_token(SDR_USER, SDR)
    sdr_user = get_user_model().objects.get(username=SDR_USER)
    for team in Team.objects.all():
        TeamMember.objects.get_or_create(team=team, user=sdr_user)
    emails = [f"pool{i}@{LOAD_DOMAIN}" for i in range(pool)]
    found, _ = leads_for_emails(emails, now=timezone.now())
    return {
        "marketing_token": marketing,
        "sdr_token": sdr,
        "lead_ids": sorted(lead.id for lead in found.values()),
    }


def bulk_seed(*, leads: int, per_lead: int, seed: int = 1) -> dict[str, Any]:
    """``leads`` leads with ``per_lead`` touchpoints each, written with COPY by
    bench_scoring's generator (the same data its figures come from), then
    scored once under the active model, as an installation that has been
    running would be. Returns the counts and the seconds taken.
    """
    from crm.bench.synthetic import seed_leads
    from scoring.bulk import model_rescore_all

    began = timezone.now()
    counts = seed_leads(leads=leads, per_lead=per_lead, seed=seed, say=lambda _: None)
    with connection.cursor() as cursor:
        for model in (Account, Lead, Touchpoint):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    seeded = (timezone.now() - began).total_seconds()
    active = selectors.model_active()
    scored = model_rescore_all(model=active, now=timezone.now()) if active else 0
    with connection.cursor() as cursor:
        for model in (Lead, LeadScore, LeadScoreHistory):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    return {
        **counts,
        "scored": scored,
        "seed_seconds": round(seeded, 1),
        "score_seconds": round((timezone.now() - began).total_seconds() - seeded, 1),
    }


def model_publish_next(*, now: dt.datetime | None = None) -> dict[str, Any]:
    """Clone the active model into a draft with every rule worth one point
    more, and publish it through ``scoring.services.model_publish`` (which
    enqueues the full rescore on the bulk queue). Returns the new model's id,
    version, published_at and the lead total it will rescore.
    """
    active = selectors.model_active()
    if active is None:
        raise RuntimeError("There is no active scoring model to publish after.")
    draft = services.model_clone(model=active)
    # Different points, so a lead still showing the old version's score is seen.
    for rule in draft.rules.exclude(points=0):
        step = Decimal(1) if rule.points > 0 else Decimal(-1)
        services.rule_update(rule=rule, points=rule.points + step)
    published = services.model_publish(model_id=draft.id, now=now)
    return {
        "model_id": published.id,
        "version": published.version,
        "previous_model_id": active.id,
        "published_at": published.published_at.isoformat(),
        "rescore_total": published.rescore_total,
    }
