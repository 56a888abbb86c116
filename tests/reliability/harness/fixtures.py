"""Data a scenario needs in its stack's database, written from inside the stack.

These run in a ``python -m tests.reliability.harness <step>`` process started
by the scenario with the stack's environment (``Stack.harness``), so they use
the project's own services against the stack's database, never the
harness's. The data itself comes from ``crm.bench.synthetic``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from crm.bench.synthetic import api_user_token, lead_pool, seed_leads
from crm.roles import MARKETING, SDR
from handoff.models import Team, TeamMember
from leads.models import Account, Lead, Touchpoint
from scoring import selectors, services
from scoring.models import LeadScore, LeadScoreHistory
from tests.reliability.harness.ingest import LOAD_DOMAIN

MARKETING_USER = "reliability-marketing"
SDR_USER = "reliability-sdr"


@transaction.atomic
def load_prepare(*, pool: int) -> dict[str, Any]:
    """API users (Marketing posts touchpoints, an SDR reads the SAL queue) and
    a pool of ``pool`` existing leads; returns their tokens and the pool's ids.

    The SDR joins every team, so the MQLs the load makes are assigned to it
    and its SAL queue has rows to read. Running it twice reuses everything.
    """
    email = f"@{LOAD_DOMAIN}"
    marketing = api_user_token(MARKETING_USER, MARKETING, email=MARKETING_USER + email)
    sdr = api_user_token(SDR_USER, SDR, email=SDR_USER + email)
    sdr_user = get_user_model().objects.get(username=SDR_USER)
    for team in Team.objects.all():
        TeamMember.objects.get_or_create(team=team, user=sdr_user)
    return {
        "marketing_token": marketing,
        "sdr_token": sdr,
        "lead_ids": lead_pool(pool, domain=LOAD_DOMAIN, local="pool"),
    }


def bulk_seed(*, leads: int, per_lead: int, seed: int = 1) -> dict[str, Any]:
    """``leads`` leads with ``per_lead`` touchpoints each, written with COPY by
    the synthetic-data generator (the data bench_scoring's figures come
    from), then scored once under the active model, as an installation that has been
    running would be. Returns the counts and the seconds taken.
    """
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
