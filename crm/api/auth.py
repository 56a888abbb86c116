"""Password checks at the boundary: the API token endpoint and login lockout.

``POST /api/v1/auth/token/`` trades a username and password for the user's
API token (created on first use). Both it and the login form go through
``django.contrib.auth.authenticate`` with the request, so django-axes counts
their failures together and refuses a locked-out client before the password is
even checked. A lockout is answered 429 with ``Retry-After``: JSON under the
API, a page elsewhere (``lockout_response``, wired in as
``AXES_LOCKOUT_CALLABLE``). Attempts during a lockout are not counted
(``AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT``), so a lockout ends one
cool-off after the failure that caused it, whatever is tried meanwhile.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

from axes.backends import AxesStandaloneBackend
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off, get_failure_limit
from django.contrib.auth import authenticate
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from crm.common.fields import SafeCharField
from crm.roles import user_roles

if TYPE_CHECKING:
    from django.contrib.auth.models import User

#: Where the API lives; a lockout there is answered in JSON.
API_PREFIX = "/api/"
BAD_CREDENTIALS = "Unable to log in with the given username and password."
NO_ROLE = "This account has no role, so it may not use the API."


def client_ip(request: HttpRequest) -> str | None:
    """The client address axes counts failures by (``AXES_CLIENT_IP_CALLABLE``).

    The same address the API's rate limits use: DRF's ``get_ident``, which
    trusts ``X-Forwarded-For`` only for ``NUM_PROXIES`` proxies, so a client
    cannot escape its lockout by sending a new forged address each time.
    """
    return BaseThrottle().get_ident(request) or None


class LoginAttemptBackend(AxesStandaloneBackend):
    """django-axes' lockout check, for authentications that come with a request.

    Listed before ``ModelBackend``: a locked-out client is refused before its
    password is checked, so even the right password does not get in. A call
    without a request happens only outside HTTP (a shell, the test client's
    ``login()``), where there is no remote client to count or lock out; axes'
    own backend would refuse such calls outright, so they are passed on.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def _lockout_ends_at(
    request: HttpRequest, cool_off: dt.timedelta
) -> dt.datetime | None:
    """When the client's lockout ends, from the failures it is counted by.

    It ends once so many of them are older than the cool-off that fewer than
    the limit remain: newest first, the failure that reaches the limit is the
    one whose ageing ends it. None when axes keeps no such record.
    """
    handler = AxesProxyHandler.get_implementation()
    credentials = getattr(request, "axes_credentials", None)
    if not hasattr(handler, "get_user_attempts"):
        return None
    limit = get_failure_limit(request, credentials)
    ends_at = None
    for attempts in handler.get_user_attempts(request, credentials):
        counted = 0
        for attempt_time, failures in attempts.order_by("-attempt_time").values_list(
            "attempt_time", "failures_since_start"
        ):
            counted += failures
            if counted >= limit:
                candidate = attempt_time + cool_off
                ends_at = candidate if ends_at is None else max(ends_at, candidate)
                break
    return ends_at


def _retry_after_seconds(request: HttpRequest) -> int | None:
    """Seconds until the lockout ends; None when it lasts until an admin acts."""
    cool_off = get_cool_off(request)
    if not cool_off:
        return None
    now = getattr(request, "axes_attempt_time", None)
    ends_at = _lockout_ends_at(request, cool_off) if now is not None else None
    if ends_at is None:
        return math.ceil(cool_off.total_seconds())
    return max(1, math.ceil((ends_at - now).total_seconds()))


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """429 for a locked-out client: JSON under the API, a page elsewhere.

    ``Retry-After`` and the message say how long is left of the lockout.
    """
    seconds = _retry_after_seconds(request)
    if seconds is None:
        message = "Too many failed login attempts. Ask an admin to unlock the account."
    else:
        minutes = math.ceil(seconds / 60)
        message = (
            "Too many failed login attempts. Try again in "
            f"{minutes} minute{'s' if minutes != 1 else ''}."
        )
    if request.path_info.startswith(API_PREFIX):
        response: HttpResponse = JsonResponse(
            {"detail": message}, status=status.HTTP_429_TOO_MANY_REQUESTS
        )
    else:
        response = render(
            request,
            "registration/locked_out.html",
            {"message": message},
            status=status.HTTP_429_TOO_MANY_REQUESTS,
        )
    if seconds is not None:
        response["Retry-After"] = str(seconds)
    return response


def api_token_get_or_create(*, user: User) -> Token:
    """Return the user's API token, creating it on first use.

    One token per user (DRF's model); a second call returns the same key.
    Issuing one is audited by the receiver on Token's ``post_save``.
    """
    token, _created = Token.objects.get_or_create(user=user)
    return token


class TokenRequestSerializer(serializers.Serializer):
    # Safe fields: a NUL or a lone surrogate is a 400 here, not a 500 from
    # PostgreSQL (username lookup) or from the password hasher (encoding).
    username = SafeCharField(max_length=150, trim_whitespace=False)
    password = SafeCharField(
        max_length=4096,
        trim_whitespace=False,
        write_only=True,
        style={"input_type": "password"},
    )


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class TokenObtainView(APIView):
    """Trade a username and password for the user's API token."""

    # No session or token: the password is the credential, and there is no
    # session to forge a request with, so CSRF does not apply.
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        summary="Get your API token",
        description=(
            "Send your username and password; the answer carries your API token "
            "(created on first use, the same key afterwards). Use it as "
            "`Authorization: Token <key>`. After too many failed attempts for one "
            "username from one address, that client is locked out for a while, "
            "even with the right password."
        ),
        auth=[],
        request={
            "application/json": TokenRequestSerializer,
            "application/x-www-form-urlencoded": TokenRequestSerializer,
            "multipart/form-data": TokenRequestSerializer,
        },
        responses={
            200: inline_serializer("ApiToken", {"token": serializers.CharField()}),
            400: OpenApiResponse(
                description="A field is missing, or the username and password "
                "do not match an active user."
            ),
            403: OpenApiResponse(description=NO_ROLE),
            415: OpenApiResponse(
                description="The body is not JSON, a URL-encoded form or "
                "multipart form data."
            ),
            429: OpenApiResponse(
                description="Locked out after too many failed attempts; retry "
                "after `Retry-After` seconds."
            ),
        },
    )
    @method_decorator(sensitive_variables())
    def post(self, request: Request) -> Response | HttpResponse:
        incoming = TokenRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        # axes flags the Django request, not DRF's wrapper around it.
        django_request = request._request
        user = authenticate(django_request, **incoming.validated_data)
        if getattr(django_request, "axes_locked_out", False):
            return lockout_response(django_request)
        if user is None:
            raise ValidationError({"non_field_errors": [BAD_CREDENTIALS]})
        if not user_roles(user):
            raise PermissionDenied(NO_ROLE)
        token = api_token_get_or_create(user=user)
        return Response({"token": token.key})
