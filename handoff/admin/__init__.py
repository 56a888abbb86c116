"""Django admin of the handoff app: calendars, teams, SLAs, reasons, handoffs.

The configuration (business calendars, SDR teams, sales profiles, SLAs and
rejection reasons) is edited here; the handoffs and what hangs off them
(contact attempts, events, sales outcomes) are records of what happened and
are shown read-only. A handoff's status and decision change only through
``handoff/services/`` (the SAL queue and the escalation ladder), so no
form here can set them. Where a setting has a service (adding a team member
levels the round robin, marking someone away), the admin calls it.

Django autodiscovers this package, so it imports every module that registers
a model admin.
"""

from handoff.admin import handoffs, slas, teams

__all__ = ["handoffs", "slas", "teams"]
