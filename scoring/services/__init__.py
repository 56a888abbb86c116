"""Write use-cases of scoring, by sub-domain.

- ``rescoring``: rescoring one lead or sets of leads, the reconciler's claim;
- ``drafts``: cloning a model, editing a draft's rules and settings;
- ``publishing``: publishing a draft, undoing and retrying a failed publish;
- ``chunks``: planning and running the chunks of a full rescore;
- ``rollups``: account roll-ups of lead engagement.

MQL promotion lives in scoring.promotion. The names below are re-exported so
``scoring.services.<name>`` keeps working for the rest of the code.
"""

from scoring.promotion import PROMOTABLE_STAGES, SYSTEM_ACTOR, mql_reason
from scoring.services.chunks import (
    PUBLISH_RUN,
    chunks_stalled,
    rescore_chunk_run,
    rescore_plan,
)
from scoring.services.drafts import (
    MODEL_FIELDS,
    NOT_EDITABLE_MESSAGE,
    RULE_FIELDS,
    model_clone,
    model_update,
    rule_create,
    rule_delete,
    rule_update,
    rules_reorder,
)
from scoring.services.publishing import (
    RESTORE_RUN,
    model_publish,
    model_publish_retry,
    rescore_run_fail,
)
from scoring.services.rescoring import (
    RESCORE_SET_SIZE,
    TRANSIENT_ERRORS,
    lead_rescore,
    leads_marked_overdue,
    leads_rescore,
)
from scoring.services.rollups import (
    ACCOUNT_LEAD_CAP,
    ROLLUPS_DUE_KEY,
    ROLLUPS_REFRESH_DELAY,
    account_rollups_pending,
    account_rollups_refresh_enqueue,
    account_rollups_refresh_requested,
    account_rollups_request,
    account_scores_refresh,
)
from scoring.store import ROLLUPS_LOCK_KEY

__all__ = [
    "ACCOUNT_LEAD_CAP",
    "MODEL_FIELDS",
    "NOT_EDITABLE_MESSAGE",
    "PROMOTABLE_STAGES",
    "PUBLISH_RUN",
    "RESCORE_SET_SIZE",
    "RESTORE_RUN",
    "ROLLUPS_DUE_KEY",
    "ROLLUPS_LOCK_KEY",
    "ROLLUPS_REFRESH_DELAY",
    "RULE_FIELDS",
    "SYSTEM_ACTOR",
    "TRANSIENT_ERRORS",
    "account_rollups_pending",
    "account_rollups_refresh_enqueue",
    "account_rollups_refresh_requested",
    "account_rollups_request",
    "account_scores_refresh",
    "chunks_stalled",
    "lead_rescore",
    "leads_marked_overdue",
    "leads_rescore",
    "model_clone",
    "model_publish",
    "model_publish_retry",
    "model_update",
    "mql_reason",
    "rescore_chunk_run",
    "rescore_plan",
    "rescore_run_fail",
    "rule_create",
    "rule_delete",
    "rule_update",
    "rules_reorder",
]
