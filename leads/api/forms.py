"""The public web-form endpoint: ``POST /api/v1/forms/<key>/submit/`` (no token).

Browsers on a marketing site post here, so the endpoint guards itself: only
the form's allowed origins get CORS headers and may post (a request without
``Origin`` is a server and is let through), a per-IP rate limit that fails
open when the cache is down, a 64 KB body limit checked before parsing, field
limits, and a honeypot field. Every accepted submission, new or known e-mail,
and every honeypot hit get the same ``202 {"status": "received"}``, so the
answer never tells whether a person is already in the CRM.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import UploadedFile
from django.http import QueryDict
from django.utils.cache import patch_vary_headers
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from crm.common.fields import SafeCharField
from crm.common.text import text_problem
from leads import selectors
from leads.api.parsers import SafeFormParser, SafeJSONParser
from leads.api.serializers import CountryField
from leads.api.throttling import FormSubmitThrottle
from leads.capture import (
    DIFFERS_PROPERTY,
    FORM_FIELDS_MAX_BYTES,
    FORM_MAX_BODY_BYTES,
    PAGE_URL_MAX_LENGTH,
    PERSON_FIELDS,
    FormSubmission,
    form_submission_capture,
    origin_allowed,
)
from leads.emails import normalize_email
from leads.ingestion import json_object_problem
from leads.models import WebForm

logger = logging.getLogger(__name__)

#: A hidden input people leave empty and form-filling bots do not.
HONEYPOT_FIELD = "website"
#: How long a browser may reuse a preflight answer (Chrome caps it at 2 hours).
PREFLIGHT_MAX_AGE = 7_200
RECEIVED = {"status": "received"}


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = (
        f"The form data is too large; send at most {FORM_MAX_BODY_BYTES // 1024} KB."
    )
    default_code = "too_large"


class FormSubmissionSerializer(serializers.Serializer):
    """The known fields of a submission; any other field is kept as given."""

    email = SafeCharField(max_length=254)
    first_name = SafeCharField(max_length=100, required=False, allow_blank=True)
    last_name = SafeCharField(max_length=100, required=False, allow_blank=True)
    job_title = SafeCharField(max_length=200, required=False, allow_blank=True)
    company = SafeCharField(max_length=200, required=False, allow_blank=True)
    phone = SafeCharField(max_length=40, required=False, allow_blank=True)
    country = CountryField(required=False)
    utm_source = SafeCharField(max_length=100, required=False, allow_blank=True)
    utm_medium = SafeCharField(max_length=100, required=False, allow_blank=True)
    utm_campaign = SafeCharField(max_length=200, required=False, allow_blank=True)
    utm_term = SafeCharField(max_length=200, required=False, allow_blank=True)
    utm_content = SafeCharField(max_length=200, required=False, allow_blank=True)
    page_url = SafeCharField(
        max_length=PAGE_URL_MAX_LENGTH,
        required=False,
        allow_blank=True,
        help_text="The page the form is on; default the Referer header.",
    )
    anonymous_id = SafeCharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="The tracking snippet's anonymous id (it adds this hidden field "
        "to the site's forms): the visitor's browsing history joins the lead.",
    )

    def validate_email(self, value: str) -> str:
        try:
            return normalize_email(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        known = {*self.fields, HONEYPOT_FIELD}
        # On a known lead the person fields may come back as values kept for
        # review; counting them for every e-mail keeps the answer the same
        # whether the e-mail is known or not.
        claims = {
            name: value
            for name in (*PERSON_FIELDS, "company")
            if (value := attrs.get(name))
        }
        extra, errors = _extra_fields(self.initial_data, known=known, claims=claims)
        if errors:
            raise serializers.ValidationError(errors)
        return {**attrs, "fields": extra}

    def to_submission(self, *, referer: str) -> FormSubmission:
        data = dict(self.validated_data)
        if not data.get("page_url") and not text_problem(referer):
            data["page_url"] = referer[:PAGE_URL_MAX_LENGTH]
        return FormSubmission(**data)


def _extra_fields(
    data: Mapping[str, Any], *, known: set[str], claims: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The submission's other fields and the errors that keep them from storage.

    The size limit counts ``claims`` too, as the touchpoint may carry them.
    """
    extra: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key in data:
        if key in known:
            continue
        if isinstance(data, QueryDict):
            values = data.getlist(key)
            value = values[0] if len(values) == 1 else values
        else:
            value = data[key]
        if isinstance(value, UploadedFile) or (
            isinstance(value, list) and any(isinstance(v, UploadedFile) for v in value)
        ):
            errors[key] = ["Files are not accepted; send text fields only."]
        elif problem := text_problem(key) or json_object_problem({key: value}):
            errors[key] = [problem]
        else:
            extra[key] = value
    counted = {**extra, DIFFERS_PROPERTY: claims} if claims else extra
    if not errors and (
        problem := json_object_problem(counted, max_bytes=FORM_FIELDS_MAX_BYTES)
    ):
        errors["non_field_errors"] = [f"The form's other fields together: {problem}"]
    return extra, errors


def _honeypot_filled(data: Any) -> bool:
    if not isinstance(data, Mapping):
        return False
    value = data.get(HONEYPOT_FIELD)
    return value is not None and str(value).strip() != ""


def _content_length(request: Request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


ERRORS = {
    400: OpenApiResponse(description="Invalid input; the body names each bad field."),
    403: OpenApiResponse(
        description="The request's Origin is not one of the form's allowed origins; "
        "nothing was stored."
    ),
    404: OpenApiResponse(description="There is no active form with this key."),
    413: OpenApiResponse(
        description=f"The body is over {FORM_MAX_BODY_BYTES // 1024} KB; nothing was "
        "stored."
    ),
    429: OpenApiResponse(
        description="Too many submissions from this address; retry after the "
        "number of seconds in the Retry-After header."
    ),
}


class FormSubmitView(APIView):
    """Receive one submission of a public web form; no credentials needed."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [FormSubmitThrottle]
    parser_classes = [SafeJSONParser, SafeFormParser, MultiPartParser]
    renderer_classes = [JSONRenderer]
    web_form: WebForm | None = None

    def check_permissions(self, request: Request) -> None:
        # Runs before the rate limit, so a throttled answer to an allowed
        # origin still carries CORS headers and the browser can read it.
        super().check_permissions(request)
        self.web_form = selectors.web_form_get_active(key=self.kwargs["form_key"])
        if self.web_form is None:
            raise NotFound("There is no active form with this key.")
        origin = request.headers.get("Origin")
        if origin is not None and not origin_allowed(self.web_form, origin):
            raise PermissionDenied("This form does not accept submissions from here.")

    def get_throttles(self) -> list[BaseThrottle]:
        # A preflight is not a submission: it must not use up the budget.
        if self.request.method == "OPTIONS":
            return []
        return super().get_throttles()

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        patch_vary_headers(response, ("Origin",))
        origin = request.headers.get("Origin")
        if (
            origin
            and self.web_form is not None
            and origin_allowed(self.web_form, origin)
        ):
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Expose-Headers"] = "Retry-After"
        return response

    @extend_schema(exclude=True)
    def options(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """CORS preflight: 204 for an allowed origin (403 otherwise, above)."""
        response = Response(status=status.HTTP_204_NO_CONTENT)
        if request.headers.get("Origin") is not None:
            response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            response["Access-Control-Allow-Headers"] = "Content-Type"
            response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
        return response

    @extend_schema(
        summary="Submit a public web form",
        description=(
            "For a marketing site's browser form; no token. Send JSON, "
            "`application/x-www-form-urlencoded` or `multipart/form-data` (no "
            "files). `email` is required; fields other than the ones listed are "
            "kept with the touchpoint. A new e-mail creates a lead; a known one "
            "only has its blank fields filled, and submitted values that differ "
            "from the lead's are kept with the touchpoint (under `differs`) for "
            "a person to review. A touchpoint of the form's kind is recorded. "
            "Browsers may post "
            "only from the form's allowed origins (a request without `Origin` is "
            "accepted). Add a hidden input named `website` that people leave "
            "empty: a submission with it filled is answered as received and "
            "discarded. The answer is the same for a new and a known e-mail. "
            "With `anonymous_id` (the tracking snippet adds it), the visitor a "
            "website tracking source of the page's origin knows is identified "
            "as the lead: its browsing history joins the lead."
        ),
        auth=[],
        request={
            "application/json": FormSubmissionSerializer,
            "application/x-www-form-urlencoded": FormSubmissionSerializer,
            "multipart/form-data": FormSubmissionSerializer,
        },
        responses={
            202: OpenApiResponse(
                inline_serializer(
                    "FormSubmissionReceived",
                    {"status": serializers.CharField(default="received")},
                ),
                description="Received (also for a known e-mail and for the honeypot).",
            ),
            **ERRORS,
        },
    )
    def post(self, request: Request, form_key: str) -> Response:
        if _content_length(request) > FORM_MAX_BODY_BYTES:
            raise BodyTooLarge()
        if _honeypot_filled(request.data):
            logger.info("form %s: honeypot filled, submission discarded", form_key)
            return Response(RECEIVED, status=status.HTTP_202_ACCEPTED)
        incoming = FormSubmissionSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        form_submission_capture(
            form=self.web_form,
            data=incoming.to_submission(referer=request.headers.get("Referer", "")),
            ip=BaseThrottle().get_ident(request),
            origin=request.headers.get("Origin"),
        )
        return Response(RECEIVED, status=status.HTTP_202_ACCEPTED)
