"""What a marketer pastes to install tracking: the snippet's tag for a site
source, the collector's address for a server source's Segment SDK.

The tag loads ``static/leadflow/track.js`` from Leadflow itself (no third-party
host); the script sends to the origin it was served from, so the tag is all the
configuration a site needs.
"""

from __future__ import annotations

from django.templatetags.static import static
from django.utils.html import escape

from leads.models import TrackingSource

#: The snippet's path under the static files.
SNIPPET_STATIC_PATH = "leadflow/track.js"
#: Where Segment's and RudderStack's SDKs send, under Leadflow's address: a
#: server SDK's host (it adds /v1/batch), analytics-next's apiHost adds /v1.
SEGMENT_PATH = "/segment"

#: Keeps the calls a page makes before the script has loaded; the script
#: replays them. One line, so it pastes anywhere.
QUEUE_STUB = (
    "<script>window.leadflow=window.leadflow||[];"
    '["page","identify","track","consent"].forEach(function(m){'
    "window.leadflow[m]=window.leadflow[m]||function(){"
    "window.leadflow.push([m].concat([].slice.call(arguments)))}});</script>"
)


def snippet_url(base_url: str) -> str:
    """The snippet's absolute address on the Leadflow at ``base_url``."""
    return base_url.rstrip("/") + static(SNIPPET_STATIC_PATH)


def snippet_tag(
    source: TrackingSource, base_url: str, *, consent_required: bool = False
) -> str:
    """The HTML to paste into every page of the source's site, before
    ``</head>``: the queue stub, then the snippet's tag with the write key.

    With ``consent_required`` the snippet waits for ``leadflow.consent(true)``
    (from the site's consent banner) before it sets a cookie or sends.
    """
    consent = ' data-consent="required"' if consent_required else ""
    tag = (
        f'<script async src="{escape(snippet_url(base_url))}" '
        f'data-key="{escape(source.write_key)}"{consent}></script>'
    )
    return f"{QUEUE_STUB}\n{tag}"


def segment_host(base_url: str) -> str:
    """The host a Segment or RudderStack server SDK is given (it posts to
    ``<host>/v1/batch``)."""
    return base_url.rstrip("/") + SEGMENT_PATH
