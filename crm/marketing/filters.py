"""The dashboard's filters: which leads the funnel, its lead lists and the
MQL and acceptance panels count.

- campaign: leads with at least one touchpoint of that campaign;
- channel: leads with a touchpoint of a campaign in that channel
  (``Campaign.channel``);
- source: ``Lead.source``; region: ``Lead.region``;
- SLA: leads that were handed off under that SLA (``Handoff.sla``), at any time.

Filters combine with AND; an empty filter does not narrow anything. The lead
list means the same by the same query parameters (``crm.filters``), so a
funnel count and the list it links to agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import Exists, OuterRef, QuerySet

from handoff.models import Handoff, ServiceLevelAgreement
from leads.geo import Region
from leads.models import Campaign, Lead
from leads.selectors import LeadScope, lead_filter

#: The filters' query parameters, in the order the page shows them.
FILTER_PARAMS = ("campaign", "channel", "source", "region", "sla")


@dataclass(frozen=True)
class FunnelFilters:
    """The chosen filters; ids for campaign and SLA, codes for the rest."""

    campaign_id: int | None = None
    channel: str = ""
    source: str = ""
    region: str = ""
    sla_id: int | None = None

    @classmethod
    def from_cleaned(cls, data: dict[str, Any]) -> FunnelFilters:
        """The filters among a valid form's ``cleaned_data`` (campaign and SLA
        as model instances, the rest as codes; absent ones unset)."""
        campaign, sla = data.get("campaign"), data.get("sla")
        return cls(
            campaign_id=campaign.id if campaign else None,
            channel=data.get("channel") or "",
            source=data.get("source") or "",
            region=data.get("region") or "",
            sla_id=sla.id if sla else None,
        )

    def __bool__(self) -> bool:
        return self.narrows_leads or self.sla_id is not None

    @property
    def narrows_leads(self) -> bool:
        """A filter on the lead's own data or touchpoints (not the SLA)."""
        return bool(
            self.campaign_id is not None or self.channel or self.source or self.region
        )

    def criteria(self) -> dict[str, Any]:
        """Keyword arguments of ``leads.selectors.lead_filter``."""
        scopes = []
        if self.sla_id is not None:
            scopes.append(
                LeadScope(
                    name="sla",
                    value=self.sla_id,
                    condition=Exists(
                        Handoff.objects.filter(
                            lead_id=OuterRef("pk"), sla_id=self.sla_id
                        )
                    ),
                )
            )
        return {
            "campaign_id": self.campaign_id,
            "channel": self.channel,
            "source": self.source,
            "region": self.region,
            "scopes": scopes,
        }

    def apply(self, leads: QuerySet[Lead]) -> QuerySet[Lead]:
        """``leads`` narrowed to the filtered ones (unchanged when empty)."""
        if not self:
            return leads
        return lead_filter(leads, **self.criteria())

    def params(self) -> dict[str, str]:
        """The filters as the query parameters of the page, API and lead list."""
        values = {
            "campaign": self.campaign_id,
            "channel": self.channel,
            "source": self.source,
            "region": self.region,
            "sla": self.sla_id,
        }
        return {name: str(v) for name, v in values.items() if v not in ("", None)}


NO_FILTERS = FunnelFilters()


def campaign_choices() -> QuerySet[Campaign]:
    return Campaign.objects.order_by("name").only("id", "name", "channel")


def sla_choices() -> QuerySet[ServiceLevelAgreement]:
    return ServiceLevelAgreement.objects.order_by("name").only("id", "name")


class IdChoiceField(forms.ModelChoiceField):
    """A row picked by its id; anything else is "pick one from the list"."""

    def __init__(self, *args: Any, what: str, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)
        article = "an" if what[0] in "AEFHILMNORSX" else "a"
        self.error_messages["invalid_choice"] = (
            f"Pick {article} {what} from the list (its id); there is no {what} "
            "with this id."
        )

    def to_python(self, value: Any) -> Any:
        text = str(value).strip() if value is not None else ""
        if text and not (text.isascii() and text.isdigit() and len(text) <= 18):
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            )
        return super().to_python(text)


class FunnelFilterForm(forms.Form):
    """The filters' GET parameters; every one is optional."""

    campaign = IdChoiceField(queryset=Campaign.objects.all(), what="campaign")
    channel = forms.ChoiceField(choices=Campaign.Channel.choices, required=False)
    source = forms.ChoiceField(choices=Lead.Source.choices, required=False)
    region = forms.ChoiceField(choices=Region.choices, required=False)
    sla = IdChoiceField(
        queryset=ServiceLevelAgreement.objects.all(), what="SLA", label="SLA"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, what in (
            ("channel", "channel"),
            ("source", "source"),
            ("region", "region"),
        ):
            codes = ", ".join(value for value, _ in self.fields[name].choices)
            self.fields[name].error_messages["invalid_choice"] = (
                f"Pick a {what} from the list (one of {codes})."
            )

    def filters(self) -> FunnelFilters:
        """The chosen filters (call after ``is_valid()``)."""
        return FunnelFilters.from_cleaned(self.cleaned_data)

    def summary(self) -> list[str]:
        """The chosen filters as the page names them (call after ``is_valid()``)."""
        data = self.cleaned_data
        parts = []
        if data.get("campaign"):
            parts.append(f"campaign {data['campaign'].name}")
        for name in ("channel", "source", "region"):
            if data.get(name):
                label = dict(self.fields[name].choices)[data[name]]
                parts.append(f"{name} {label}")
        if data.get("sla"):
            parts.append(f"SLA {data['sla'].name}")
        return parts
