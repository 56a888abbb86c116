"""REST endpoints of scoring: read the models and their rules, publish a draft.

Thin callers of ``scoring.selectors`` and ``scoring.services``. Every role
may read (``scoring.view_scoringmodel``); publishing needs
``scoring.change_scoringmodel`` (Marketing, Admin). The leads app's exception
handler knows nothing of scoring (a lower app), so the publish view turns
``ModelNotPublishable`` into a 409 itself.
"""
