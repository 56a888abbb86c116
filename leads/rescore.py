"""Marking leads for a rescore, and announcing it (``leads_changed``) after
commit: every write that changes what a lead's score reads ends here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from django.db import connection, transaction

from leads.locks import leads_set_in_id_order
from leads.models import Lead
from leads.signals import leads_changed

logger = logging.getLogger(__name__)

# The leads marked inside ``rescore_announced_once``, announced at its end.
_pending: ContextVar[set[int] | None] = ContextVar("rescore_pending", default=None)


@contextmanager
def rescore_announced_once() -> Iterator[None]:
    """Within the block, every ``leads_mark_for_rescore`` marks its leads as
    usual but the announcement is one ``leads_changed`` after commit, with
    every lead marked in the block (a use-case that writes through several
    services still enqueues one rescore per lead). Use it inside the
    transaction; a block that raises announces nothing. Nested blocks join
    the outer one.
    """
    if _pending.get() is not None:
        yield
        return
    ids: set[int] = set()
    token = _pending.set(ids)
    try:
        yield
    finally:
        _pending.reset(token)
    if ids:
        announced = sorted(ids)
        transaction.on_commit(lambda: _send_leads_changed(announced))


def leads_mark_for_rescore(lead_ids: Iterable[int], *, now: datetime) -> None:
    """Mark leads as needing a rescore and announce it after commit.

    The mark is the time of the latest change: a rescore clears it only when
    the mark is not newer than what the rescore read (a conditional update),
    so activity that lands during a rescore keeps its lead marked. Call inside
    the transaction that changed the leads.
    """
    ids = sorted(set(lead_ids))
    if not ids:
        return
    if connection.vendor == "postgresql":
        # Locked in id order first, as rescores lock their leads: an UPDATE
        # takes its rows in whatever order its plan reads them, and two
        # transactions taking overlapping sets in different orders deadlock.
        # One statement, written once, for one lead too: building the ORM's
        # UPDATE cost more than running it.
        leads_set_in_id_order(ids, column="rescore_requested_at", value=now)
    else:
        Lead.objects.filter(id__in=ids).update(rescore_requested_at=now)
    pending = _pending.get()
    if pending is not None:
        pending.update(ids)
        return
    transaction.on_commit(lambda: _send_leads_changed(ids))


def _send_leads_changed(lead_ids: list[int]) -> None:
    # A receiver that fails (the broker is down) must not turn committed data
    # into an error: the marks stay and the reconciler re-enqueues them.
    for receiver, result in leads_changed.send_robust(sender=Lead, lead_ids=lead_ids):
        if isinstance(result, Exception):
            logger.error(
                "leads_changed receiver %r failed for %s leads: %r",
                receiver,
                len(lead_ids),
                result,
            )
