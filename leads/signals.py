"""The leads domain's one upward hook.

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
