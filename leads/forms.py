"""Forms of the leads admin: they validate input and nothing else.

Saving is done by the admin classes through ``leads.services`` (leads) or a
plain model save where no service exists yet (accounts, campaigns, kinds).
Each check here turns input the services or the database would refuse into a
field error, so a person sees what to fix and nothing is stored.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from leads.campaigns import CAMPAIGN_FIELDS
from leads.capture import normalize_origin
from leads.edit_scope import LEAD_SOURCE_FIELDS, TOUCHPOINT_FIELDS
from leads.emails import normalize_email
from leads.models import Account, Campaign, Lead, Stage, Touchpoint, WebForm
from leads.titles import Department


def _contains_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


def clean_json_object(value: object) -> dict[str, Any]:
    """Return ``value`` if it is a JSON object PostgreSQL can store, else raise.

    An empty input counts as ``{}``. NUL characters are refused here because
    jsonb cannot hold them (the insert would fail with a server error).
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(
            'Enter a JSON object such as {"key": "value"}.', code="not_an_object"
        )
    if _contains_nul(value):
        raise ValidationError(
            "Remove the NUL character (\\u0000); it cannot be stored.",
            code="null_characters_not_allowed",
        )
    return value


def normalize_domain(raw: str) -> str:
    """The domain as ``Account.clean`` stores it: trimmed, lower-case, no "www."."""
    return (raw or "").strip().lower().removeprefix("www.")


class LeadAdminForm(forms.ModelForm):
    """Add and change form of a lead in the admin.

    The admin decides which fields are editable (stage fields never are); this
    form adds the checks ``leads.services.lead_create`` would otherwise raise
    as exceptions: a malformed e-mail and one taken in another letter case.
    """

    class Meta:
        model = Lead
        fields = (
            "email",
            "first_name",
            "last_name",
            "job_title",
            "seniority_override",
            "department",
            "phone",
            "account",
            "country",
            *LEAD_SOURCE_FIELDS,
            "owner",
            "do_not_email",
            "do_not_call",
            "attributes",
        )
        labels = {
            "email": "E-mail",
            "utm_source": "UTM source",
            "utm_medium": "UTM medium",
            "utm_campaign": "UTM campaign",
            "utm_term": "UTM term",
            "utm_content": "UTM content",
            "do_not_email": "Do not e-mail",
        }
        help_texts = {
            "country": "Two-letter ISO code such as US, DE or GB.",
        }
        widgets = {
            "attributes": forms.Textarea(attrs={"rows": 4, "cols": 60}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        override = self.fields.get("seniority_override")
        if override is not None:
            override.choices = [
                ("", "Derived from the job title"),
                *override.choices[1:],
            ]
        department = self.fields.get("department")
        if department is not None and self.instance._state.adding:
            # Blank lets lead_create derive the department from the job title.
            department.required = False
            department.choices = [
                ("", "Derived from the job title"),
                *Department.choices,
            ]
            self.initial["department"] = ""
            department.help_text = "Leave as derived unless the title misleads."
        account = self.fields.get("account")
        if account is not None:
            account.help_text = (
                "Leave empty to use the account of the e-mail domain (created when "
                "new; none for free-mail addresses)."
            )

    def clean_email(self) -> str:
        email = normalize_email(self.cleaned_data["email"])
        taken = Lead.objects.filter(email__lower=email.lower())
        if self.instance.pk is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise ValidationError(
                "A lead with this e-mail already exists (compared without regard "
                "to letter case).",
                code="duplicate_email",
            )
        return email

    def clean_attributes(self) -> dict[str, Any]:
        return clean_json_object(self.cleaned_data.get("attributes"))


class LeadMoveForm(forms.Form):
    """The confirmation step of the admin action that moves leads out of the funnel."""

    to_stage = forms.ChoiceField(
        label="Move to",
        choices=[
            (Stage.NURTURE.value, Stage.NURTURE.label),
            (Stage.DISQUALIFIED.value, Stage.DISQUALIFIED.label),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded in the stage history of every lead moved.",
    )


class AccountAdminForm(forms.ModelForm):
    """Account form: the domain is normalised and unique in any letter case."""

    class Meta:
        model = Account
        fields = (
            "name",
            "domain",
            "industry",
            "country",
            "employee_count",
            "annual_revenue",
            "owner",
        )

    def clean_domain(self) -> str:
        domain = normalize_domain(self.cleaned_data.get("domain", ""))
        if not domain:
            return domain
        taken = Account.objects.filter(domain__lower=domain)
        if self.instance.pk is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise ValidationError(
                "An account with this domain already exists.", code="duplicate_domain"
            )
        return domain


class CampaignAdminForm(forms.ModelForm):
    """Campaign form; the model's constraints supply the validation messages."""

    class Meta:
        model = Campaign
        fields = CAMPAIGN_FIELDS
        labels = {
            "utm_source": "UTM source",
            "utm_medium": "UTM medium",
            "utm_campaign": "UTM campaign",
        }


class TouchpointAdminForm(forms.ModelForm):
    """Add form of a touchpoint; stored touchpoints are never changed."""

    class Meta:
        model = Touchpoint
        fields = TOUCHPOINT_FIELDS
        widgets = {
            "properties": forms.Textarea(attrs={"rows": 4, "cols": 60}),
        }

    def clean_properties(self) -> dict[str, Any]:
        return clean_json_object(self.cleaned_data.get("properties"))


class WebFormAdminForm(forms.ModelForm):
    """Add and change form of a public web form.

    Each allowed origin must be ``scheme://host[:port]`` (what browsers send
    in ``Origin``): a pasted page URL with a path would never match, so it is
    refused here rather than silently locking the site out. Origins are
    stored normalised (lower case, no default port), one per line.
    """

    class Meta:
        model = WebForm
        fields = ("name", "key", "kind", "campaign", "allowed_origins", "is_active")
        widgets = {
            "allowed_origins": forms.Textarea(attrs={"rows": 4, "cols": 60}),
        }

    def clean_allowed_origins(self) -> str:
        origins: list[str] = []
        errors: list[str] = []
        for line in self.cleaned_data.get("allowed_origins", "").splitlines():
            if not line.strip():
                continue
            try:
                origins.append(normalize_origin(line))
            except ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            raise ValidationError(errors, code="invalid_origin")
        return "\n".join(dict.fromkeys(origins))
