"""Forms of the scoring screens: they parse what people type, nothing else.

Whether a rule or a setting makes sense (a known attribute, a valid pattern,
points of the right sign ...) is decided by ``scoring.services`` through
``scoring.validation``; the views put its messages next to these fields.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from scoring.models import ScoringModel, ScoringRule

#: What the value field expects for each comparison (shown under it).
VALUE_HELP = {
    "equals": "The exact value, such as director. Case does not matter.",
    "not_equals": "The one value to leave out, such as DE. Case does not matter. "
    "Also holds when the field is empty or missing.",
    "one_of": "Options separated by commas, such as vp, executive.",
    "none_of": "Options to leave out, separated by commas, such as retail, "
    "hospitality. Also holds when the field is empty or missing.",
    "contains": "Text the value contains, such as /pricing.",
    "starts_with": "Text the value starts with.",
    "matches": r"A regular expression, such as \b(marketing|sales)\b; "
    "no back-references or lookarounds.",
    "at_least": "A number; the value must be this or more.",
    "at_most": "A number; the value must be this or less.",
    "between": "Two numbers separated by a comma, lower first: 200, 5000.",
    "is_empty": "No value needed: the rule holds when the field is empty.",
}
OPERATOR_CHOICES = [("", "Choose…"), *ScoringRule.Operator.choices]


class RuleForm(forms.Form):
    """Add or change a rule. Every field is posted whatever the kind; the
    page's script only hides the ones the chosen kind does not use."""

    kind = forms.ChoiceField(
        choices=ScoringRule.Kind.choices, initial="fit", widget=forms.RadioSelect
    )
    label = forms.CharField(
        max_length=200,
        help_text="People see this in every score breakdown.",
    )
    points = forms.DecimalField(required=False, max_digits=9, decimal_places=2)
    attribute = forms.CharField(
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"list": "attribute-options", "autocomplete": "off"}
        ),
        help_text="Pick a lead or account field, or attributes.<name> for an "
        "attribute of your leads' data (listed below).",
    )
    operator = forms.ChoiceField(
        label="Comparison", required=False, choices=OPERATOR_CHOICES
    )
    value = forms.CharField(required=False, max_length=2000)
    touchpoint_kind = forms.ChoiceField(label="Touchpoint kind", required=False)
    property_name = forms.CharField(
        label="Property",
        required=False,
        max_length=100,
        help_text="A top-level property, such as url.",
    )
    property_operator = forms.ChoiceField(
        label="Comparison", required=False, choices=OPERATOR_CHOICES
    )
    property_value = forms.CharField(label="Value", required=False, max_length=2000)
    max_occurrences = forms.IntegerField(
        label="Count at most",
        required=False,
        help_text="The most recent touchpoints first. Empty: up to 1,000.",
    )
    lookback_days = forms.IntegerField(
        label="Look back (days)",
        required=False,
        help_text="Ignore older touchpoints. Empty: no limit.",
    )
    half_life_days = forms.IntegerField(
        label="Half-life (days)",
        required=False,
        help_text="Points halve every this many days. Empty: the model's half-life.",
    )

    def __init__(
        self, *args: Any, touchpoint_kinds: list[tuple[str, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["touchpoint_kind"].choices = [("", "Choose…"), *touchpoint_kinds]


def rule_initial(rule: ScoringRule) -> dict[str, Any]:
    """A stored rule as the form shows it (lists as comma-separated text)."""
    initial = {name: getattr(rule, name) for name in RuleForm.base_fields}
    initial["points"] = _plain(rule.points)
    initial["value"] = _as_text(rule.value)
    initial["property_value"] = _as_text(rule.property_value)
    return initial


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _plain(value: Decimal | None) -> Decimal | None:
    """40.00 -> 40, 2.50 -> 2.5: numbers in inputs as people type them."""
    if value is None:
        return None
    return (
        value.quantize(Decimal(1))
        if value == value.to_integral()
        else value.normalize()
    )


class ModelSettingsForm(forms.Form):
    """A draft's threshold, fit minimum, half-life, grade bands and notes."""

    mql_threshold = forms.DecimalField(
        label="MQL threshold",
        max_digits=9,
        decimal_places=2,
        help_text="A lead whose score reaches this becomes an MQL.",
    )
    min_fit_score = forms.DecimalField(
        label="Fit minimum",
        required=False,
        max_digits=9,
        decimal_places=2,
        help_text="Optional: an MQL also needs at least this fit score.",
    )
    default_half_life_days = forms.IntegerField(
        label="Half-life (days)",
        help_text="Engagement points halve every this many days, unless a rule "
        "sets its own.",
    )
    grade_a_min = forms.DecimalField(
        label="Grade A from", max_digits=9, decimal_places=2
    )
    grade_b_min = forms.DecimalField(
        label="Grade B from", max_digits=9, decimal_places=2
    )
    grade_c_min = forms.DecimalField(
        label="Grade C from",
        max_digits=9,
        decimal_places=2,
        help_text="Grades come from the fit score alone; below C is D.",
    )
    notes = forms.CharField(
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What changed in this version and why.",
    )

    @staticmethod
    def initial_for(model: ScoringModel) -> dict[str, Any]:
        initial = {name: getattr(model, name) for name in ModelSettingsForm.base_fields}
        for name, value in initial.items():
            if isinstance(value, Decimal):
                initial[name] = _plain(value)
        return initial


class ReorderForm(forms.Form):
    """The new order of a draft's rules: their ids, comma-separated."""

    rule_ids = forms.CharField(max_length=10_000)
    # The rule that moved: the page scrolls back to it.
    moved = forms.IntegerField(required=False)

    def clean_rule_ids(self) -> list[int]:
        parts = [p.strip() for p in self.cleaned_data["rule_ids"].split(",")]
        if not all(p.isdigit() for p in parts):
            raise forms.ValidationError("Send the rule ids separated by commas.")
        return [int(p) for p in parts]
