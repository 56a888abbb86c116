"""The "Suggest points" form of the scoring models page (what to fit)."""

from __future__ import annotations

from django import forms

from scoring.suggestion import MATURITY_DAYS, OUTCOMES

OUTCOME_LABELS = {"sql": "Sales-qualified (SQL) or beyond", "customer": "Customer"}


class SuggestForm(forms.Form):
    """What to fit: the outcome, the cut-off day, the draft's name."""

    outcome = forms.ChoiceField(
        choices=[(code, OUTCOME_LABELS[code]) for code in OUTCOMES],
        initial="sql",
        label="Outcome",
        help_text="The stage a lead must have reached to count as a success.",
    )
    until = forms.DateField(
        required=False,
        label="Leads created before",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=f"Empty: {MATURITY_DAYS} days ago, so that the leads had time "
        "to reach the outcome.",
    )
    name = forms.CharField(
        required=False,
        max_length=120,
        label="Draft name",
        initial="Suggested points",
    )
