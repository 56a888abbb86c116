"""Personal data API: export a lead's data and erase it (GDPR requests).

``GET /api/v1/leads/<id>/export/``: any role that may see leads
(``leads.view_lead``); every export is audited. An erased lead is 404, as in
the rest of the lead API: nothing personal is left to export.

``POST /api/v1/leads/<id>/erase/``: the Admin role only (or a superuser).
Repeating it on an erased lead answers 200 with the same body and changes
nothing (it is still audited).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.common.roles import ADMIN
from crm.privacy.erasure import lead_erase
from crm.privacy.export import lead_personal_data_export
from crm.roles import user_roles
from leads import selectors
from leads.models import Lead

ERRORS = {
    401: OpenApiResponse(description="No or bad credentials."),
    403: OpenApiResponse(description="Your role may not do this."),
    404: OpenApiResponse(description="No such lead (or it was erased)."),
}


class CanViewLeads(BasePermission):
    message = "Your role may not see leads."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user  # None when anonymous (UNAUTHENTICATED_USER)
        return bool(user and user.is_authenticated and user.has_perm("leads.view_lead"))


class IsAdminRole(BasePermission):
    message = "Only the Admin role may erase personal data."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and ADMIN in user_roles(user))


class LeadErasureSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    erased_at = serializers.DateTimeField()


class LeadExportView(APIView):
    """Download everything stored about one lead's person, as JSON."""

    permission_classes = [CanViewLeads]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        summary="Export a lead's personal data",
        description="Keys: `exported_at`, `lead` (every field), `account` (name "
        "and domain, or null), `touchpoints` (with properties), `stage_history`, "
        "`scores`, `handoffs`, `contact_attempts`, `sales_outcomes`. Each export is "
        "recorded in the audit log.",
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="The export."),
            **ERRORS,
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        lead = selectors.lead_list_api().filter(id=pk).first()
        if lead is None:
            raise NotFound("No such lead.")
        export = lead_personal_data_export(lead=lead, actor=request.user)
        return Response(
            export,
            headers={
                "Content-Disposition": (
                    f'attachment; filename="lead-{lead.id}-personal-data.json"'
                )
            },
        )


class LeadEraseView(APIView):
    """Erase one lead's personal data; the anonymous row stays for reports."""

    permission_classes = [IsAdminRole]

    @extend_schema(
        summary="Erase a lead's personal data",
        description="Replaces the e-mail, names, phone, job title and attributes, "
        "clears every touchpoint's properties and blanks the free text of handoffs "
        "(feedback, contact-attempt notes, sales feedback); stage, history, "
        "seniority, "
        "country and touchpoint counts stay. Afterwards the lead is gone from the "
        "lead API. Repeating it answers the same and changes nothing.",
        request=None,
        responses={
            200: OpenApiResponse(
                LeadErasureSerializer, description="Erased now or before."
            ),
            **ERRORS,
            404: OpenApiResponse(description="No such lead."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        lead = Lead.objects.filter(id=pk).first()
        if lead is None:
            raise NotFound("No such lead.")
        try:
            lead = lead_erase(lead=lead, actor=request.user)
        except Lead.DoesNotExist as exc:  # deleted since the lookup above
            raise NotFound("No such lead.") from exc
        return Response(LeadErasureSerializer(lead).data)
