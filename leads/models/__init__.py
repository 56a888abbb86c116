"""Accounts, leads, campaigns, touchpoints, stage transitions, web forms,
imports and the audit log.

Models hold data, constraints and single-row behaviour. Writes go through
``leads/services.py``; a lead's stage changes only in ``leads/lifecycle.py``.

The models live by sub-domain: ``people`` (accounts, leads), ``activity``
(touchpoints, campaigns, stage transitions, owner changes), ``intake`` (web
forms, import jobs), ``tracking`` (website tracking: sources, visitors,
tracked events, event mappings) and ``audit`` (the audit log). Import them
from here.
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
    FOLLOW_UP_EPOCH,
    PIPELINE_STAGES,
    Account,
    Industry,
    Lead,
    LeadRank,
    Stage,
    follow_up_sort_at,
    validate_country,
    validate_json_object,
)
from leads.models.tracking import (
    BEFORE_IDENTIFICATION,
    TRACKING_SOURCE_PREFIX,
    EventMapping,
    TrackedEvent,
    TrackingSource,
    Visitor,
    event_key,
)

__all__ = [
    "BEFORE_IDENTIFICATION",
    "FOLLOW_UP_EPOCH",
    "IMPORT_MAX_BYTES",
    "PIPELINE_STAGES",
    "TRACKING_SOURCE_PREFIX",
    "Account",
    "AttributionMark",
    "AuditEvent",
    "Campaign",
    "CampaignSpend",
    "EventMapping",
    "ImportJob",
    "Industry",
    "Lead",
    "LeadRank",
    "OwnerChange",
    "Stage",
    "StageTransition",
    "Touchpoint",
    "TouchpointKind",
    "TrackedEvent",
    "TrackingSource",
    "Visitor",
    "WebForm",
    "event_key",
    "follow_up_sort_at",
    "validate_country",
    "validate_json_object",
]
