"""The handoff screens: the SAL queue, a handoff's page, the pipeline, the report.

Every POST here answers in one of two ways:

- a plain form POST (no JavaScript) redirects back to the page it came from
  with a message (Post/Redirect/Get);
- an htmx POST gets the fragment to swap in: the updated row, a short
  confirmation after a decision, or the row again with the problem shown next
  to the fields. The status code carries the outcome, and the page's script
  tells htmx to swap these too: 200 done, 422 input to fix (DecisionInvalid
  or a form error), 409 already decided or lost a race, 403 not yours.

``queue`` holds the queue and the decisions posted from it, ``detail`` a
handoff's page, ``pipeline`` the sales pipeline, ``team`` a manager's team
pipeline and its reassignments, ``reports`` the SLA report;
who may open them is checked in ``access``, and the rows and cards they show
are built in ``handoff.presenters``.
"""

from handoff.views.detail import handoff_detail
from handoff.views.pipeline import (
    pipeline,
    pipeline_column,
    pipeline_form,
    sales_move,
)
from handoff.views.queue import (
    accept,
    accept_form,
    attempt_add,
    attempt_form,
    availability,
    claim,
    queue,
    queue_rows,
    reject,
    reject_form,
)
from handoff.views.reports import sla_report
from handoff.views.team import (
    pipeline_team,
    pipeline_team_column,
    reassign,
    reassign_form,
)

__all__ = [
    "accept",
    "accept_form",
    "attempt_add",
    "attempt_form",
    "availability",
    "claim",
    "handoff_detail",
    "pipeline",
    "pipeline_column",
    "pipeline_form",
    "pipeline_team",
    "pipeline_team_column",
    "queue",
    "queue_rows",
    "reassign",
    "reassign_form",
    "reject",
    "reject_form",
    "sales_move",
    "sla_report",
]
