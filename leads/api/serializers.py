"""Serializers of the leads API: they validate input and shape output, nothing else."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.common.fields import SafeCharField, StrictDateTimeField
from crm.common.keyset import MAX_ID
from crm.common.text import text_problem
from leads.domains import account_domain_problem
from leads.edit_scope import LEAD_SOURCE_FIELDS, TOUCHPOINT_FIELDS
from leads.emails import normalize_email
from leads.geo import Region, country_from_text
from leads.ingestion import BATCH_LIMIT, TouchpointIn, json_object_problem
from leads.models import Account, Industry, Lead, Touchpoint
from leads.titles import Department, Seniority


class JSONObjectField(serializers.JSONField):
    """A free-form JSON object, size- and depth-limited, without NUL characters."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        if problem := json_object_problem(value):
            raise serializers.ValidationError(problem)
        return value


class CountryField(SafeCharField):
    """A country as an ISO 3166 code (DE, DEU, any case) or its English name
    (Germany), stored as the alpha-2 code; anything else is a 400."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "help_text",
            "ISO 3166 code (US, DE; alpha-3 such as DEU too) or the English name "
            "(Germany); stored as the two-letter code.",
        )
        super().__init__(max_length=100, allow_blank=True, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data).strip()
        code = country_from_text(value)
        if code is None:
            raise serializers.ValidationError(
                f"{value} is not a country Leadflow knows; send an ISO 3166 code "
                "(e.g. US, DE) or the English name (e.g. Germany)."
            )
        return code


_LIFECYCLE = (
    "is read-only; a lead's stage moves through its handoff (accept or reject, "
    "/api/v1/handoffs/), the sales pipeline, or the admin's move action."
)
_SCORED = "is read-only; the active scoring model computes it."
_SET_BY_LEADFLOW = "is read-only; Leadflow sets it."

#: Why each field a lead shows (or holds) cannot be written; a client that
#: sends one gets a 400 naming it, never a 200 that silently kept the old value.
LEAD_READ_ONLY = {
    "id": _SET_BY_LEADFLOW,
    "stage": _LIFECYCLE,
    "highest_stage": _LIFECYCLE,
    "stage_changed_at": _LIFECYCLE,
    "score": _SCORED,
    "fit_score": _SCORED,
    "engagement_score": _SCORED,
    "grade": _SCORED,
    "scored_at": _SCORED,
    "score_breakdown": _SCORED,
    "gated_by": _SCORED,
    "seniority": "is read-only; it follows job_title. Send seniority_override "
    "to overrule it.",
    "region": "is read-only; it follows country.",
    "created_at": _SET_BY_LEADFLOW,
    "updated_at": _SET_BY_LEADFLOW,
}
#: The refusal of ``owner`` (clients used to send it).
OWNER_REFUSED = (
    "The owner is set when an SDR accepts the lead's handoff; it cannot be "
    "written here."
)


class RefuseUnknownFieldsMixin:
    """Answer a field the serializer does not take with a 400 naming it.

    DRF drops unknown keys silently, so a client that sent ``stage`` or
    ``score`` got a 200 and believed the lead changed. ``read_only_reasons``
    says why a known read-only field cannot be written; any other name is
    unknown.
    """

    read_only_reasons: dict[str, str] = {}

    def refusal(self, name: str) -> str:
        if name in self.read_only_reasons:
            return f"{name} {self.read_only_reasons[name]}"
        writable = ", ".join(sorted(self.fields))  # type: ignore[attr-defined]
        return f"{name} is not a field you can write here; send only {writable}."

    def to_internal_value(self, data: Any) -> Any:
        refused = (
            {
                name: [self.refusal(str(name))]
                for name in data
                if name not in self.fields  # type: ignore[attr-defined]
            }
            if isinstance(data, dict)
            else {}
        )
        try:
            value = super().to_internal_value(data)  # type: ignore[misc]
        except serializers.ValidationError as exc:
            if refused and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **refused}) from exc
            raise
        if refused:
            raise serializers.ValidationError(refused)
        return value


# Accounts and leads
# ------------------------------------------------------------------------------


class AccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = ["id", "name", "domain", "industry", "employee_count", "country"]
        read_only_fields = fields


# A host name: dot-separated labels of letters, digits and inner hyphens.
_DOMAIN_RE = re.compile(
    r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+"
)


class AccountInSerializer(RefuseUnknownFieldsMixin, serializers.Serializer):
    """The optional ``account`` object of a lead: found by domain, else by name."""

    read_only_reasons = {
        "id": _SET_BY_LEADFLOW,
        "owner": "is read-only here; an Admin sets an account's owner.",
    }

    name = SafeCharField(max_length=200, required=False, allow_blank=True)
    domain = SafeCharField(max_length=253, required=False, allow_blank=True)
    industry = serializers.ChoiceField(choices=Industry.choices, required=False)
    employee_count = serializers.IntegerField(
        min_value=0, max_value=10_000_000, required=False, allow_null=True
    )
    annual_revenue = serializers.DecimalField(
        max_digits=16, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    country = CountryField(required=False)

    def validate_domain(self, value: str) -> str:
        domain = value.strip().lower().removeprefix("www.")
        if domain and not _DOMAIN_RE.fullmatch(domain):
            raise serializers.ValidationError(
                "Enter a domain name such as example.com (letters, digits and "
                "hyphens, at most 63 characters between dots)."
            )
        if problem := account_domain_problem(domain):
            raise serializers.ValidationError(problem)
        return domain

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("domain") and not attrs.get("name"):
            raise serializers.ValidationError("Give the account's domain or its name.")
        return attrs


class LeadSerializer(serializers.ModelSerializer):
    """A lead as the API shows it."""

    owner = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    account = AccountSerializer(read_only=True, allow_null=True)
    # Declared: DRF drops allow_blank from read-only model fields, so the
    # schema would not admit the "" these fields hold when unset.
    seniority_override = serializers.ChoiceField(
        choices=Seniority.choices, read_only=True, allow_blank=True
    )
    region = serializers.ChoiceField(
        choices=Region.choices, read_only=True, allow_blank=True
    )
    source = serializers.ChoiceField(
        choices=Lead.Source.choices, read_only=True, allow_blank=True
    )
    score = serializers.DecimalField(max_digits=9, decimal_places=2, read_only=True)
    fit_score = serializers.DecimalField(max_digits=9, decimal_places=2, read_only=True)
    engagement_score = serializers.DecimalField(
        max_digits=9, decimal_places=2, read_only=True
    )

    class Meta:
        model = Lead
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "job_title",
            "seniority",
            "seniority_override",
            "department",
            "phone",
            "country",
            "region",
            *LEAD_SOURCE_FIELDS,
            "owner",
            "account",
            "stage",
            "highest_stage",
            "do_not_email",
            "do_not_call",
            "attributes",
            "score",
            "fit_score",
            "engagement_score",
            "grade",
            "scored_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class LeadWriteSerializer(RefuseUnknownFieldsMixin, serializers.Serializer):
    """Fields a client may send to create or change a lead (all but e-mail optional).

    Any other field is refused by name (400), read-only ones with the reason.
    """

    read_only_reasons = LEAD_READ_ONLY

    email = SafeCharField(max_length=254)
    first_name = SafeCharField(max_length=100, required=False, allow_blank=True)
    last_name = SafeCharField(max_length=100, required=False, allow_blank=True)
    job_title = SafeCharField(max_length=200, required=False, allow_blank=True)
    seniority_override = serializers.ChoiceField(
        choices=Seniority.choices,
        allow_blank=True,
        required=False,
        help_text="Overrules the seniority derived from the title; blank to derive.",
    )
    department = serializers.ChoiceField(choices=Department.choices, required=False)
    phone = SafeCharField(max_length=40, required=False, allow_blank=True)
    country = CountryField(required=False)
    source = serializers.ChoiceField(choices=Lead.Source.choices, required=False)
    utm_source = SafeCharField(max_length=100, required=False, allow_blank=True)
    utm_medium = SafeCharField(max_length=100, required=False, allow_blank=True)
    utm_campaign = SafeCharField(max_length=200, required=False, allow_blank=True)
    utm_term = SafeCharField(max_length=200, required=False, allow_blank=True)
    utm_content = SafeCharField(max_length=200, required=False, allow_blank=True)
    do_not_email = serializers.BooleanField(required=False)
    do_not_call = serializers.BooleanField(required=False)
    attributes = JSONObjectField(required=False)
    account = AccountInSerializer(required=False)

    def validate_email(self, value: str) -> str:
        try:
            return normalize_email(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc

    def refusal(self, name: str) -> str:
        # The owner changes only when an SDR accepts the lead's handoff (the
        # handoff service): a writable owner let any role that may change
        # leads take another rep's lead and then move it.
        if name == "owner":
            return OWNER_REFUSED
        return super().refusal(name)


class LeadPatchSerializer(LeadWriteSerializer):
    """PATCH: the same fields except the e-mail, which identifies the lead."""

    email = None  # type: ignore[assignment]

    def refusal(self, name: str) -> str:
        # Refused, not ignored: a client must not believe the address changed.
        if name == "email":
            return "The e-mail identifies the lead and cannot be changed."
        return super().refusal(name)


# Touchpoints
# ------------------------------------------------------------------------------


@extend_schema_field(
    {
        "oneOf": [
            {
                "type": "integer",
                "minimum": 1,
                "maximum": 2**63 - 1,
                "description": "The campaign's id.",
            },
            {
                "type": "object",
                "properties": {
                    "utm_source": {"type": "string", "maxLength": 200},
                    "utm_medium": {"type": "string", "maxLength": 200},
                    "utm_campaign": {"type": "string", "maxLength": 200},
                },
                "required": ["utm_campaign"],
                "additionalProperties": False,
            },
        ]
    }
)
class CampaignRefField(serializers.Field):
    """A campaign as an id, or as its UTM keys (source, medium, campaign)."""

    default_error_messages = {
        "invalid": "Give a campaign id or an object with utm_source, utm_medium "
        "and utm_campaign."
    }

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int):
            if not 1 <= data <= MAX_ID:
                raise serializers.ValidationError(
                    f"There is no campaign with id {data}."
                )
            return {"campaign_id": data}
        if isinstance(data, dict):
            keys = ("utm_source", "utm_medium", "utm_campaign")
            if set(data) - set(keys) or not data.get("utm_campaign"):
                self.fail("invalid")
            values = {}
            for key in keys:
                value = data.get(key, "")
                if (
                    not isinstance(value, str)
                    or len(value) > 200
                    or text_problem(value)
                ):
                    self.fail("invalid")
                values[key] = value
            return values
        self.fail("invalid")
        return {}

    def to_representation(self, value: Any) -> Any:
        return value


class TouchpointInSerializer(serializers.Serializer):
    """One touchpoint as a client sends it."""

    lead = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="The lead's id; or give lead_email.",
    )
    lead_email = SafeCharField(
        max_length=254,
        required=False,
        help_text="The lead's e-mail; an unknown address creates the lead.",
    )
    kind = SafeCharField(max_length=40, help_text="A touchpoint kind code.")
    occurred_at = StrictDateTimeField(
        required=False, help_text="ISO 8601 with an offset; default now."
    )
    campaign = CampaignRefField(
        required=False,
        help_text="A campaign id, or {utm_source, utm_medium, utm_campaign}.",
    )
    properties = JSONObjectField(required=False)
    external_id = SafeCharField(
        max_length=200,
        required=False,
        help_text="Your id for this event; a repeat of the same event is "
        "acknowledged, not stored twice; another event with it is a conflict.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("lead" in attrs) == ("lead_email" in attrs):
            raise serializers.ValidationError(
                {"lead": ["Give either lead (an id) or lead_email."]}
            )
        return attrs

    def quick_validation(self, data: Any) -> dict[str, Any] | None:
        """What ``run_validation(data)`` returns for a plain, valid item, or
        None when the item needs that full path.

        A batch of 1,000 spent most of its validation in the serializer's
        per-field machinery. This checks the common shapes directly (text,
        an id) and runs the other fields' own validation; an item with any
        problem, or of a shape it does not know, gets None, so the caller
        answers it through ``run_validation`` with exactly its errors.
        """
        if not isinstance(data, dict):
            return None
        fields = self.fields
        attrs: dict[str, Any] = {}
        for name, value in data.items():
            field = fields.get(name)
            if field is None:
                continue  # dropped, as the serializer drops unknown keys
            if isinstance(field, SafeCharField):
                if not isinstance(value, str):
                    return None
                value = value.strip()
                if not value or len(value) > field.max_length or text_problem(value):
                    return None
            elif isinstance(field, serializers.IntegerField):
                if (
                    type(value) is not int
                    or (field.min_value is not None and value < field.min_value)
                    or (field.max_value is not None and value > field.max_value)
                ):
                    return None
            elif isinstance(field, JSONObjectField):
                # The field's own check, without JSONField's trial json.dumps:
                # json_object_problem encodes the object to measure it, and
                # raises for what JSON cannot hold as the trial would.
                try:
                    if json_object_problem(value) is not None:
                        return None
                except (TypeError, ValueError):
                    return None
            else:
                try:
                    value = field.run_validation(value)
                except serializers.ValidationError:
                    return None
            attrs[name] = value
        if any(field.required and name not in attrs for name, field in fields.items()):
            return None
        try:
            return self.validate(attrs)
        except serializers.ValidationError:
            return None

    @staticmethod
    def touchpoint_in(data: dict[str, Any]) -> TouchpointIn:
        """The ingestion input for one item's validated data."""
        campaign = data.get("campaign", {})
        return TouchpointIn(
            kind=data["kind"],
            occurred_at=data.get("occurred_at"),
            lead_id=data.get("lead"),
            lead_email=data.get("lead_email"),
            campaign_id=campaign.get("campaign_id"),
            utm_source=campaign.get("utm_source", ""),
            utm_medium=campaign.get("utm_medium", ""),
            utm_campaign=campaign.get("utm_campaign", ""),
            properties=data.get("properties", {}),
            properties_checked=True,
            external_id=data.get("external_id"),
        )


class TouchpointSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(source="kind_id", read_only=True)

    class Meta:
        model = Touchpoint
        fields = ["id", *TOUCHPOINT_FIELDS, "received_at"]
        read_only_fields = fields


class TouchpointBatchSerializer(serializers.Serializer):
    touchpoints = serializers.ListField(
        child=serializers.DictField(), max_length=BATCH_LIMIT, allow_empty=False
    )

    @staticmethod
    def quick_items(data: Any) -> list[dict[str, Any]] | None:
        """The items of a plain, valid envelope (a list of 1 to 1,000 JSON
        objects), as validation would give them, or None when it needs the
        serializer, which names the problem. Walking every item through
        ``DictField`` cost a tenth of a batch of 1,000."""
        items = data.get("touchpoints") if isinstance(data, dict) else None
        if (
            type(items) is list
            and 1 <= len(items) <= BATCH_LIMIT
            and all(type(item) is dict for item in items)
        ):
            return items
        return None


class TouchpointBatchItemSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=["created", "duplicate", "conflict", "invalid"],
        help_text="conflict: the external_id was stored before for another "
        "lead, kind or time (id is that touchpoint's); the single POST answers "
        "it with 409.",
    )
    id = serializers.IntegerField(required=False, allow_null=True)
    errors = serializers.DictField(required=False)


class TouchpointBatchResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    conflicts = serializers.IntegerField()
    invalid = serializers.IntegerField()
    results = TouchpointBatchItemSerializer(many=True)
