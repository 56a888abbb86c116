"""The Segment-compatible tracking endpoint: ``POST /segment/v1/<type>``.

Speaks Segment's HTTP tracking API, so the snippet and unchanged Segment
or RudderStack SDKs send here: ``identify``, ``track``, ``page``,
``screen``, ``group``, ``alias``, ``batch`` and ``import``, and the
one-letter paths analytics.js uses (``i t p s g a b``). No session, no CSRF
token: the write key authenticates, as HTTP Basic user name (empty
password) or as ``writeKey`` in the JSON body (browsers), which may come as
``application/json`` or ``text/plain`` (sendBeacon).

Answers: 200 ``{"success": true}``; 400 ``{"error": ...}`` saying what to
fix; 401 for an unknown or inactive key; 403 for a browser ``Origin`` the
source does not allow (a request without ``Origin`` is a server SDK's);
413 over Segment's limits (32 KB a message, 500 KB a batch); 429 with
``Retry-After`` when the key is over its rate. A batch with some invalid
messages stores the others and answers 200 naming the refused ones under
``rejected`` (also counted on the source); one with only invalid messages
answers 400.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import zlib
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ValidationError
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from drf_spectacular.utils import extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from crm.common import strict_json
from leads.api.throttling import CACHE_ERRORS
from leads.capture import normalize_origin
from leads.models import TrackingSource
from leads.tracking import selectors
from leads.tracking.ingest import messages_ingest
from leads.tracking.protocol import (
    BATCH_MAX_BYTES,
    MESSAGE_MAX_BYTES,
    SHORT_TYPES,
    TYPES,
    MessageError,
    message_parse,
    time_parse,
)

logger = logging.getLogger(__name__)

#: Paths that carry a list of messages under "batch".
BATCH_PATHS = {"batch", "import", "b"}
#: How long a browser may reuse a preflight answer (Chrome caps it at 2 hours).
PREFLIGHT_MAX_AGE = 7_200
#: Most messages one batch may carry (500 KB of the smallest messages).
BATCH_MAX_MESSAGES = 2_500
#: Seconds of the period in a rate such as "12000/min" (as DRF reads rates).
RATE_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: Cache key prefix of the per-key rate counters.
RATE_KEY = "tracking-rate:%s:%s"


#: The ``code`` of each refusal, as Segment's SDKs read it with ``message``.
ERROR_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    413: "too_large",
    429: "rate_limited",
}


def _error(status: int, message: str, **headers: str) -> JsonResponse:
    """A refusal: ``error`` says what to fix; ``code`` and ``message`` repeat
    it the way Segment's SDKs report an answer (``APIError``)."""
    response = JsonResponse(
        {"error": message, "code": ERROR_CODES[status], "message": message},
        status=status,
    )
    for name, value in headers.items():
        response[name] = value
    return response


def _origins_of_active_sources() -> set[str]:
    origins: set[str] = set()
    for text in TrackingSource.objects.filter(is_active=True).values_list(
        "allowed_origins", flat=True
    ):
        for line in text.splitlines():
            if line.strip():
                origins.add(line.strip())
    return origins


def _origin_of(raw: str) -> str | None:
    try:
        return normalize_origin(raw)
    except ValidationError:
        return None  # not an origin: matches nothing


def _cors(response: HttpResponse, origin: str | None, allowed: bool) -> HttpResponse:
    patch_vary_headers(response, ("Origin",))
    if origin and allowed:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Expose-Headers"] = "Retry-After"
    return response


def _preflight(request: HttpRequest) -> HttpResponse:
    """CORS preflight: it carries no key, so an origin any active source
    allows gets the CORS answer (the POST is checked against its source)."""
    origin = request.headers.get("Origin")
    response = HttpResponse(status=204)
    if origin is None:
        return response
    wanted = _origin_of(origin)
    if wanted is None or wanted not in _origins_of_active_sources():
        refused = _error(403, "This origin may not send tracking events.")
        return _cors(refused, None, False)
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    # analytics-next adds X-Retry-Count when it sends a message again.
    response["Access-Control-Allow-Headers"] = (
        "Content-Type, Authorization, X-Retry-Count"
    )
    response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    return _cors(response, origin, True)


def _basic_user(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return ""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[0]


def _body(request: HttpRequest, limit: int) -> bytes | HttpResponse:
    """The request body, gunzipped when sent so; a 413 answer over ``limit``."""
    too_large = _error(
        413,
        f"The body is too large; send at most {limit // 1024} KB "
        f"({'per batch' if limit == BATCH_MAX_BYTES else 'per message'}).",
    )
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return too_large
    body = request.body
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        inflater = zlib.decompressobj(wbits=31)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error:
            return _error(400, "The body is not valid gzip.")
    if len(body) > limit:
        return too_large
    return body


def _rate_exceeded(source: TrackingSource, count: int) -> int | None:
    """Count ``count`` messages against the source's rate; the seconds to
    wait when it is over (None when within). Fails open when the cache is
    down: losing Redis must not lose events."""
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get("tracking")
    if not rate:
        return None
    allowed_text, _, unit = rate.partition("/")
    allowed, period = int(allowed_text), RATE_PERIODS[unit[:1]]
    now = int(timezone.now().timestamp())
    window = now // period
    key = RATE_KEY % (source.pk, window)
    try:
        used = _rate_count(key, count, timeout=period + 1)
    except ValueError:
        return None  # the key expired between add and incr
    except CACHE_ERRORS as exc:
        logger.warning("tracking rate not checked, cache unavailable: %r", exc)
        return None
    if used > allowed:
        return (window + 1) * period - now or 1
    return None


def _rate_count(key: str, count: int, *, timeout: int) -> int:
    """Add ``count`` to the counter ``key`` (made with ``timeout`` seconds to
    live) and return its total. On Redis one round trip: SET NX EX then
    INCRBY in a transaction, the counter the cache's ``add`` and ``incr`` keep
    in three (``incr`` checks the key exists first); on other caches those
    two calls."""
    backend = caches["default"]  # ``cache`` is a proxy of it
    if isinstance(backend, RedisCache):
        name = backend.make_and_validate_key(key)
        client = backend._cache.get_client(name, write=True)
        # MULTI/EXEC: the key cannot expire between the two commands.
        with client.pipeline(transaction=True) as pipe:
            pipe.set(name, 0, ex=timeout, nx=True)
            pipe.incrby(name, count)
            _, used = pipe.execute()
        return int(used)
    cache.add(key, 0, timeout=timeout)
    return cache.incr(key, count)


#: Every path under /segment/v1/ (crm/urls.py mounts one route each).
PATHS = (*TYPES, "batch", "import", *SHORT_TYPES, "b")


class _JSONAlways(BaseContentNegotiation):
    """Answer JSON whatever ``Accept`` says: SDKs and beacons send what they
    like, and a 406 would lose their events."""

    def select_parser(self, request: Request, parsers: list[Any]) -> None:
        return None

    def select_renderer(
        self, request: Request, renderers: list[Any], format_suffix: str | None = None
    ) -> tuple[Any, str]:
        return renderers[0], renderers[0].media_type


class SegmentView(APIView):
    """``POST /segment/v1/<type>``: Segment messages for a tracking source.

    No session, no token: the write key authenticates (module docstring).
    Left out of the API document, as it speaks Segment's protocol, not
    Leadflow's API.
    """

    authentication_classes = []
    permission_classes = [AllowAny]
    # The per-key rate limit counts messages, not requests (_rate_exceeded).
    throttle_classes = []
    # The body is read raw (text/plain, gzip): no DRF parsing.
    parser_classes = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _JSONAlways

    @extend_schema(exclude=True)
    def options(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        return _preflight(request._request)

    @extend_schema(exclude=True)
    def post(self, request: Request, path_type: str) -> HttpResponse:
        return segment_receive(request._request, path_type)


def segment_receive(request: HttpRequest, path_type: str) -> HttpResponse:
    """Receive Segment messages for a tracking source (module docstring)."""
    origin = request.headers.get("Origin")
    if path_type not in PATHS:
        return _error(404, f"There is no /segment/v1/{path_type} endpoint.")
    is_batch = path_type in BATCH_PATHS
    body = _body(request, BATCH_MAX_BYTES if is_batch else MESSAGE_MAX_BYTES)
    if isinstance(body, HttpResponse):
        return body
    try:
        data = strict_json.loads(body)
    except (ValueError, RecursionError) as exc:
        return _error(400, f"The body is not JSON: {str(exc)[:200]}")
    if not isinstance(data, dict):
        return _error(400, "Send a JSON object.")

    key = _basic_user(request) or data.get("writeKey") or ""
    if not isinstance(key, str) or not key:
        return _error(
            401,
            "Send the source's write key: as the user name of HTTP Basic auth "
            "(empty password), or as writeKey in the body.",
        )
    now = timezone.now()
    source, kinds = selectors.source_and_kinds_for_write_key(key, now=now)
    if source is None or not source.is_active:
        return _error(401, "This write key is unknown or its source is inactive.")
    allowed = origin is not None and _origin_of(origin) in {
        _origin_of(o) for o in source.origins
    }
    if origin is not None and not allowed:
        return _cors(
            _error(403, "This source does not accept events from this origin."),
            None,
            False,
        )

    raws: list[Any]
    sent_at = None
    if is_batch:
        raws = data.get("batch")  # type: ignore[assignment]
        if not isinstance(raws, list) or not raws:
            return _cors(
                _error(400, "Send the messages as a non-empty list under batch."),
                origin,
                allowed,
            )
        if len(raws) > BATCH_MAX_MESSAGES:
            return _cors(
                _error(400, f"Send at most {BATCH_MAX_MESSAGES:,} messages a batch."),
                origin,
                allowed,
            )
        try:
            sent_at = time_parse(data.get("sentAt"), "sentAt")
        except MessageError as exc:
            return _cors(_error(400, str(exc)), origin, allowed)
    else:
        raws = [data]

    wait = _rate_exceeded(source, len(raws))
    if wait is not None:
        return _cors(
            _error(
                429,
                f"Too many events for this write key; retry in {wait} seconds.",
                **{"Retry-After": str(wait)},
            ),
            origin,
            allowed,
        )

    path_kind = None if is_batch else SHORT_TYPES.get(path_type, path_type)
    messages = []
    rejected = []
    for index, raw in enumerate(raws):
        try:
            # Only a body over the message limit can hold a message over it.
            if (
                is_batch
                and len(body) > MESSAGE_MAX_BYTES
                and len(json.dumps(raw, separators=(",", ":"))) > MESSAGE_MAX_BYTES
            ):
                raise MessageError(
                    f"The message is over {MESSAGE_MAX_BYTES // 1024} KB; send less."
                )
            messages.append(
                message_parse(raw, type_=path_kind, sent_at=sent_at, now=now)
            )
        except MessageError as exc:
            rejected.append({"index": index, "error": str(exc)})
    if rejected and not messages:
        first = rejected[0]
        text = first["error"]
        if is_batch:
            text = f"message {first['index']}: {text}"
        if len(rejected) > 1:
            text += f" ({len(rejected)} messages refused in all)"
        return _cors(_error(400, text), origin, allowed)
    if rejected:
        TrackingSource.objects.filter(pk=source.pk).update(
            rejected_count=F("rejected_count") + len(rejected)
        )
        logger.info(
            "tracking source %s: %s of %s messages refused",
            source.pk,
            len(rejected),
            len(raws),
        )
    result = messages_ingest(
        source=source,
        messages=messages,
        user_agent=request.headers.get("User-Agent", "") if origin else "",
        kinds=kinds,
        now=now,
    )
    answer: dict[str, Any] = {"success": True}
    if rejected:
        answer["rejected"] = rejected
    if result.notes:
        # Indexes of the stored messages' list; in a batch, of the batch.
        refused = {r["index"] for r in rejected}
        positions = [i for i in range(len(raws)) if i not in refused]
        answer["notes"] = [
            {"index": positions[i], "note": note} for i, note in result.notes.items()
        ]
    return _cors(JsonResponse(answer), origin, allowed)
