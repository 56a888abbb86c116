"""Signed e-mail-link tokens: ``?lf_t=<token>`` on the links of a marketing
e-mail identifies the visitor who follows one as the lead it was sent to.

The token is the lead's id signed with the project's SECRET_KEY under a salt
of its own (``django.core.signing``), valid LINK_TOKEN_MAX_AGE: it names a
lead without showing its e-mail, and cannot be forged or made for another
lead. The snippet sends it as ``context.leadflow_token`` of an ``identify``.
"""

from __future__ import annotations

import datetime as dt

from django.core import signing

from leads.models import Lead

#: Namespace of the signature: a token of another Leadflow feature signed
#: with the same key is never accepted here.
LINK_TOKEN_SALT = "leadflow.tracking.email-link"
#: How long a link in an e-mail identifies its reader: a campaign's e-mails
#: are read for weeks, rarely after three months.
LINK_TOKEN_MAX_AGE = dt.timedelta(days=90)


def lead_token(lead: Lead) -> str:
    """A token naming ``lead``, to put in e-mail links as ``?lf_t=<token>``."""
    return signing.dumps(lead.pk, salt=LINK_TOKEN_SALT, compress=False)


def lead_from_token(token: str) -> Lead | None:
    """The lead a token names, or None when the token is forged, altered,
    older than LINK_TOKEN_MAX_AGE, or its lead is gone or erased. A lead
    merged into another resolves to the one it was merged into."""
    if not token or len(token) > 200:
        return None
    try:
        lead_id = signing.loads(token, salt=LINK_TOKEN_SALT, max_age=LINK_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(lead_id, int):
        return None
    lead = Lead.objects.filter(pk=lead_id, erased_at__isnull=True).first()
    if lead is not None and lead.merged_into_id is not None:
        lead = Lead.objects.filter(
            pk=lead.merged_into_id, erased_at__isnull=True
        ).first()
    return lead
