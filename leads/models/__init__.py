"""Accounts, leads, campaigns, touchpoints, stage transitions, web forms,
imports and the audit log.

Models hold data, constraints and single-row behaviour. Writes go through
``leads/services.py``; a lead's stage changes only in ``leads/lifecycle.py``.

The models live by sub-domain: ``people`` (accounts, leads), ``activity``
(touchpoints, campaigns, stage transitions, owner changes), ``intake`` (web
forms, import jobs) and ``audit`` (the audit log). Import them from here.
"""

from leads.models.activity import (
    AttributionMark,
    Campaign,
    CampaignSpend,
    OwnerChange,
    StageTransition,
    Touchpoint,
    TouchpointKind,
)
from leads.models.audit import AuditEvent
from leads.models.intake import IMPORT_MAX_BYTES, ImportJob, WebForm
from leads.models.people import (
    Account,
    Industry,
    Lead,
    Stage,
    validate_country,
    validate_json_object,
)

__all__ = [
    "IMPORT_MAX_BYTES",
    "Account",
    "AttributionMark",
    "AuditEvent",
    "Campaign",
    "CampaignSpend",
    "ImportJob",
    "Industry",
    "Lead",
    "OwnerChange",
    "Stage",
    "StageTransition",
    "Touchpoint",
    "TouchpointKind",
    "WebForm",
    "validate_country",
    "validate_json_object",
]
