"""A lead's stage moved by two people at once, on PostgreSQL.

The lifecycle service locks the lead row before it reads the stage, so of two
overlapping moves from one stage exactly one applies. SQLite serialises every
write transaction, so this only means something on PostgreSQL.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from leads.exceptions import InvalidStageTransition
from leads.lifecycle import lead_move
from leads.models import StageTransition
from tests.factories import LeadFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("attempt", range(3))
def test_two_concurrent_moves_exactly_one_wins(attempt):
    """Two SDRs accept the same MQL at once: one move applies, the other fails.

    The first SDR's transaction stays open after its move while the second one
    tries; without the row lock the second would read the stale ``mql`` stage
    and both moves would apply.
    """
    lead = LeadFactory(stage="mql", highest_stage="mql")
    first, second = (UserFactory(username=f"sdr-race-{attempt}-{n}") for n in range(2))
    first_moved = threading.Event()
    outcomes: dict[str, str] = {}

    def accept(user, name):
        try:
            with transaction.atomic():
                if name == "second":
                    first_moved.wait(timeout=10)
                lead_move(lead_id=lead.id, to_stage="sal", actor=user)
                if name == "first":
                    first_moved.set()
                    time.sleep(0.3)  # hold the lock while the second one tries
            outcomes[name] = "won"
        except InvalidStageTransition:
            outcomes[name] = "lost"
        finally:
            first_moved.set()
            connection.close()

    threads = [
        threading.Thread(target=accept, args=(first, "first")),
        threading.Thread(target=accept, args=(second, "second")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert outcomes == {"first": "won", "second": "lost"}
    lead.refresh_from_db()
    assert lead.stage == "sal"
    assert StageTransition.objects.get(lead=lead).actor == first
