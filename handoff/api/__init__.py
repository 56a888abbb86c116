"""REST endpoints of the handoff: the SAL queue, decisions, attempts, reasons.

Thin callers of ``handoff.selectors`` and ``handoff.services``. Who sees which
handoff is decided once, in ``selectors.handoff_for_user``; a handoff outside
it is a 404. What a role may do comes from its model permissions
(``HandoffPermissions``): reading needs ``handoff.view_handoff``, deciding
``handoff.change_handoff`` (SDR, Admin) and logging an attempt
``handoff.add_contactattempt`` (SDR, Sales, Admin). Whether this person may
decide this handoff (the assigned SDR or a manager) is the service's rule.

The leads app's exception handler knows nothing of the handoff (a lower app),
so ``errors.domain_errors`` turns the handoff's domain errors into status codes
here: DecisionInvalid 400 with field errors, HandoffNotYours 403,
HandoffAlreadyDecided 409 (a lost race or a stale view), a handoff gone
meanwhile 404.
"""
