"""The rule analytics page's GET parameters (a period, a model, a search and
the candidates' minimum support), and the form that adds a candidate rule."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from crm.marketing.periods import PeriodForm
from crm.marketing.rule_analytics import MAX_SEARCH
from crm.marketing.rule_candidates import (
    KEY_MAX,
    MIN_SUPPORT_DEFAULT,
    MIN_SUPPORT_MAX,
    MIN_SUPPORT_MIN,
)


class RuleAnalyticsForm(PeriodForm):
    """A period (the last 90 days by default: enough leads for the intervals
    to say something), a published model (the active one by default, given
    as ``models``) and a feedback search."""

    default_period = "90d"

    model = forms.TypedChoiceField(coerce=int, required=False, label="Model")
    q = forms.CharField(
        required=False, max_length=MAX_SEARCH, strip=True, label="Search feedback"
    )
    min_support = forms.IntegerField(
        required=False,
        min_value=MIN_SUPPORT_MIN,
        max_value=MIN_SUPPORT_MAX,
        label="Minimum support",
        help_text="Leads a candidate rule must hold for.",
    )

    def __init__(
        self, *args: Any, today: dt.date, models: list[Any], **kwargs: Any
    ) -> None:
        super().__init__(*args, today=today, **kwargs)
        self.models = {model.id: model for model in models}
        self.fields["model"].choices = [("", "The active model")] + [
            (model.id, f"{model} ({model.get_status_display().lower()})")
            for model in models
        ]
        self.fields["model"].error_messages["invalid_choice"] = (
            "Pick the active model or one published before it."
        )
        self.fields["q"].error_messages["max_length"] = (
            f"Search for at most {MAX_SEARCH} characters."
        )
        support = self.fields["min_support"].error_messages
        support["invalid"] = "Enter the minimum support as a whole number of leads."
        support["min_value"] = (
            f"The minimum support is at least {MIN_SUPPORT_MIN} leads."
        )
        support["max_value"] = f"The minimum support is at most {MIN_SUPPORT_MAX:,}."

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        chosen = data.get("model")
        if chosen in (None, ""):
            active = [m for m in self.models.values() if m.status == "active"]
            data["scoring_model"] = active[0] if active else None
        else:
            data["scoring_model"] = self.models[chosen]
        if data.get("min_support") is None:
            data["min_support"] = MIN_SUPPORT_DEFAULT
        return data


class CandidateAddForm(RuleAnalyticsForm):
    """The page's choices (as hidden fields) and the candidate to add."""

    candidate = forms.CharField(max_length=KEY_MAX, strip=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["candidate"].error_messages |= {
            "required": "Pick a candidate rule to add.",
            "max_length": "That is not a candidate rule; reload the page.",
        }
