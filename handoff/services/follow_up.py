"""The stored place of a lead in its sales pipeline column.

``Lead.follow_up_group`` and ``Lead.follow_up_at`` copy what
``selectors.follow_up_place_live`` works out from the lead's latest accepted
handoff and its contact attempts, so that a pipeline column is one range of
``lead_pipeline_owner_idx`` (or ``lead_pipeline_team_idx``) instead of two
correlated subqueries per lead of the column. Every service that changes
what the place is made of (an accept, a follow-up, a contact attempt on an
accepted handoff) calls ``leads_follow_up_refresh`` in its transaction,
after it wrote; bulk loads call ``follow_up_places_rebuild``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import QuerySet

from handoff import selectors
from leads.models import Lead

#: Every lead's place from its latest accepted handoff, in one statement
#: (the same definition as ``selectors.follow_up_place_live``; the tests
#: compare the two). Rows whose place is already right are not written.
REBUILD_SQL = """
UPDATE leads_lead AS l
SET follow_up_group = p.grp, follow_up_at = p.at
FROM (
    SELECT lead.id AS lead_id,
           COALESCE(c.grp, 2) AS grp,
           c.at AS at
    FROM leads_lead AS lead
    LEFT JOIN (
        SELECT DISTINCT ON (h.lead_id)
               h.lead_id,
               CASE WHEN h.followed_up_at IS NOT NULL THEN 1
                    WHEN h.follow_up_due_at IS NOT NULL THEN 0
                    ELSE 2 END AS grp,
               CASE WHEN h.followed_up_at IS NOT NULL THEN GREATEST(
                        h.followed_up_at,
                        COALESCE(
                            (SELECT a.at FROM handoff_contactattempt AS a
                             WHERE a.handoff_id = h.id
                             ORDER BY a.at DESC LIMIT 1),
                            h.followed_up_at
                        )
                    )
                    ELSE h.follow_up_due_at END AS at
        FROM handoff_handoff AS h
        WHERE h.status = 'accepted'
        ORDER BY h.lead_id, h.decided_at DESC, h.id DESC
    ) AS c ON c.lead_id = lead.id
) AS p
WHERE l.id = p.lead_id
  AND (l.follow_up_group, l.follow_up_at) IS DISTINCT FROM (p.grp, p.at)
"""


@transaction.atomic
def leads_follow_up_refresh(*, lead_ids: Iterable[int]) -> int:
    """Store the pipeline place of each of ``lead_ids`` as its handoffs now
    give it; returns how many leads were written.

    One UPDATE whose values are the live definition's subqueries. Call it
    in the transaction of the change, after the write and while holding the
    lock of the handoff changed (every caller does), so two changes of one
    clock store their places in the order they commit. A missing lead is
    skipped; a second run writes the same values again.
    """
    ids = sorted(set(lead_ids))
    if not ids:
        return 0
    return _places_store(Lead.objects.filter(id__in=ids))


def _places_store(leads: QuerySet[Lead]) -> int:
    group, at = selectors.follow_up_place_live()
    return leads.update(follow_up_group=group, follow_up_at=at)


@transaction.atomic
def follow_up_places_rebuild() -> int:
    """Store every lead's pipeline place from its handoffs (after a bulk load
    that wrote handoffs without the services, or to repair); returns how
    many leads changed, and a second run writes nothing. Elsewhere than on
    PostgreSQL (SQLite, the embedded default) every lead is written again
    with the live definition's subqueries, and the number is of every lead.
    """
    if connection.vendor != "postgresql":
        return _places_store(Lead.objects.all())
    with connection.cursor() as cursor:
        cursor.execute(REBUILD_SQL)
        return cursor.rowcount
