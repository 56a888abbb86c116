"""The handoff's domain errors as API answers: ``domain_errors`` turns
DecisionInvalid into 400 with field errors, HandoffNotYours into 403,
HandoffAlreadyDecided into 409 and a handoff gone meanwhile into 404; the
error bodies documented in the schema live here too."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied

from handoff.exceptions import DecisionInvalid, HandoffAlreadyDecided, HandoffNotYours
from handoff.models import Handoff
from leads.models import Lead


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Someone else changed this handoff first; reload it."
    default_code = "conflict"


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn the handoff's domain errors into the API's status codes."""
    try:
        yield
    except DecisionInvalid as exc:
        raise serializers.ValidationError(
            {field: [message] for field, message in exc.errors.items()}
        ) from exc
    except HandoffNotYours as exc:
        raise PermissionDenied(exc.message) from exc
    except HandoffAlreadyDecided as exc:
        raise Conflict(exc.message) from exc
    except Handoff.DoesNotExist as exc:
        # Deleted (its lead erased) between the lookup and the service's lock.
        raise NotFound("No such handoff.") from exc
    except Lead.DoesNotExist as exc:
        raise NotFound("No such lead.") from exc


class DetailSerializer(serializers.Serializer):
    """What every refusal other than invalid input answers."""

    detail = serializers.CharField()


ERRORS = {
    401: OpenApiResponse(DetailSerializer, description="No or bad credentials."),
    403: OpenApiResponse(DetailSerializer, description="Your role may not do this."),
}
INVALID = {
    400: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="Invalid input: each bad field with its messages, "
        '`{"<field>": ["<message>", ...]}`.',
    )
}
NOT_FOUND = {
    404: OpenApiResponse(
        DetailSerializer, description="No such handoff, or not one you may see."
    )
}
DECISION_ERRORS = {
    **INVALID,
    **ERRORS,
    403: OpenApiResponse(
        DetailSerializer,
        description="Your role may not decide handoffs (Marketing, Sales), or the "
        "handoff is assigned to someone else and you are not a manager.",
    ),
    **NOT_FOUND,
    409: OpenApiResponse(
        DetailSerializer,
        description="Already accepted, rejected or expired (someone was first); "
        "nothing was changed. `detail` says by whom and when.",
    ),
}
