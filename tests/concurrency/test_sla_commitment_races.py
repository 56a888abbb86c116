"""Two marketers setting one SLA's volume commitment at the same moment.

The SLA's row lock queues them: the second sees the first's value, so the
audit rows chain (the second's "from" is the first's "to") and the SLA ends
at the second's value. Without the lock both would record the same old value
and one change would vanish from the trail. PostgreSQL only: SQLite
serialises writers.
"""

from __future__ import annotations

import pytest

from handoff.models import ServiceLevelAgreement
from handoff.services import sla_commitment_set
from leads.models import AuditEvent
from tests.factories import SlaFactory
from tests.threads import run_rounds

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TRIALS = 20


def test_two_commitment_changes_at_once_chain_in_the_audit_trail():
    slas = [
        SlaFactory(name=f"SLA {n}", volume_commitment=100, volume_period="month")
        for n in range(TRIALS)
    ]

    def set_to(sla_id: int, value: int):
        return sla_commitment_set(
            sla_id=sla_id, commitment=value, period="month", actor=None
        )

    rounds = run_rounds(
        [[lambda s=sla.id, v=value: set_to(s, v) for value in (40, 70)] for sla in slas]
    )

    assert {kind for results in rounds for kind, _ in results} == {"ok"}
    for sla in slas:
        events = list(
            AuditEvent.objects.filter(
                action="sla_commitment", details__sla_id=sla.id
            ).order_by("id")
        )
        first, second = (event.details for event in events)
        assert first["from"] == [100, "month"]
        assert second["from"] == first["to"]
        final = ServiceLevelAgreement.objects.get(id=sla.id).volume_commitment
        assert [final, "month"] == second["to"]
