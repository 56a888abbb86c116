"""Input shapes of the handoff screens; the services check the domain rules.

The forms only parse (types, lengths, NUL bytes): whether a reason exists,
needs feedback or attempts, or whether a lead may move is the services'
answer, so a refused decision says the same thing on every screen and in
the API.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from handoff.models import ContactAttempt
from handoff.services import FEEDBACK_MAX, NOTE_MAX


class AcceptForm(forms.Form):
    """The rep who gets the lead; empty leaves it to the SLA's sales routing.

    Any user parses: whether they are an active sales rep is the service's
    answer, so the form and the API refuse one with the same message.
    """

    owner = forms.ModelChoiceField(
        queryset=get_user_model().objects.all(),
        required=False,
        error_messages={"invalid_choice": "Choose a sales rep from the list."},
    )


class RejectForm(forms.Form):
    reason = forms.CharField(max_length=40, required=False)
    feedback = forms.CharField(max_length=FEEDBACK_MAX, required=False)
    duplicate_of = forms.IntegerField(
        min_value=1,
        required=False,
        error_messages={"invalid": "Give the id of the lead this one duplicates."},
    )


class AttemptForm(forms.Form):
    channel = forms.ChoiceField(
        choices=ContactAttempt.Channel.choices,
        error_messages={"required": "Choose call, e-mail or social."},
    )
    outcome = forms.ChoiceField(
        choices=ContactAttempt.Outcome.choices,
        error_messages={"required": "Choose what happened."},
    )
    note = forms.CharField(max_length=NOTE_MAX, required=False)


class SalesForwardForm(forms.Form):
    """One stage forward; the service checks it is the next one, and the deal
    amount and expected close date the move needs (as text, so the pipeline
    and the API word a refusal the same)."""

    to_stage = forms.CharField(
        max_length=16, error_messages={"required": "Choose the stage to move to."}
    )
    feedback = forms.CharField(max_length=FEEDBACK_MAX, required=False)
    amount = forms.CharField(
        max_length=40,
        required=False,
        error_messages={"max_length": "Give the amount as a number, like 25000."},
    )
    expected_close_on = forms.CharField(
        max_length=40,
        required=False,
        error_messages={
            "max_length": "Give the expected close date as a date, like 2027-01-15."
        },
    )


class SalesBackForm(forms.Form):
    """Send a lead back with a sales reason; the service checks the reason."""

    reason = forms.CharField(
        max_length=40, error_messages={"required": "Choose a reason."}
    )
    feedback = forms.CharField(max_length=FEEDBACK_MAX, required=False)


class ReassignForm(forms.Form):
    """A manager hands a lead to another rep; the service checks the rep and
    the reason (so its messages are the same everywhere)."""

    to_user = forms.ModelChoiceField(
        queryset=get_user_model().objects.all(),
        required=False,
        error_messages={"invalid_choice": "Choose a rep from the list."},
    )
    reason = forms.CharField(required=False)
    # The owner the page showed: a reassignment made meanwhile is a conflict.
    expected_owner_id = forms.IntegerField(required=False)


class AvailabilityForm(forms.Form):
    is_away = forms.BooleanField(required=False)
    away_until = forms.DateField(required=False)


def form_errors(form: forms.Form) -> dict[str, str]:
    """A form's errors as the services give them: one message per field."""
    return {field: " ".join(messages) for field, messages in form.errors.items()}
