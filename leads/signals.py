"""The leads domain's upward hooks (one signal per domain event).

``lead_stage_changed`` is sent by ``leads.lifecycle`` after the transaction
that moved a lead has committed (never for a rolled-back move), once per
move. Receivers live in the higher apps (``scoring/receivers.py``,
``handoff/receivers.py``), are connected in their ``AppConfig.ready()``, and
should only enqueue work. Keyword arguments:

- ``lead_id`` (int), ``transition_id`` (int)
- ``from_stage``, ``to_stage`` (stage codes)
- ``actor_id`` (int | None) and ``system_actor`` (str, "" for a person)
- ``at`` (aware datetime of the move)
"""

from django.dispatch import Signal

lead_stage_changed = Signal()

#: Sent after commit when stored activity or data changes a lead's inputs to
#: scoring (new touchpoints, imported or edited fit attributes). Once per
#: write, with every affected lead: ``lead_ids`` (sorted list of int). The
#: leads are also marked (``Lead.rescore_requested_at``) in the same
#: transaction, so a receiver that fails only delays the rescore.
leads_changed = Signal()
