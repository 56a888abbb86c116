"""The "Replay on history" section of a draft model's page.

The section is drawn by the scoring model page (its latest replay is a
scoring row); starting a replay and the section's polled fragment live here,
in ``crm``, because the replay reads handoffs (``crm.marketing.replay``).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from crm.marketing.access import marketing_access
from crm.marketing.replay import ReplayRefused, replay_latest, replay_request
from scoring.models import ScoringModel

REFUSAL = "Replaying a scoring model is for the Marketing and Admin roles."


class ReplayForm(forms.Form):
    start = forms.DateField(
        label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label="Until (not included)", widget=forms.DateInput(attrs={"type": "date"})
    )


def _model_or_404(pk: int) -> ScoringModel:
    model = ScoringModel.objects.filter(id=pk).first()
    if model is None:
        raise Http404("No such scoring model.")
    return model


def _section_url(pk: int) -> str:
    return reverse("scoring:detail", args=[pk]) + "#replay"


@require_POST
@marketing_access(edit=True, refusal=REFUSAL)
def replay_start(request: HttpRequest, pk: int) -> HttpResponse:
    """Start a replay of the draft on the period posted; back to its page."""
    model = _model_or_404(pk)
    form = ReplayForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(
            f"{form.fields[name].label}: {' '.join(errors)}"
            for name, errors in form.errors.items()
        )
        messages.error(request, f"The replay was not started. {problems}")
        return redirect(_section_url(model.id))
    try:
        replay_request(
            draft=model,
            start=form.cleaned_data["start"],
            end=form.cleaned_data["end"],
            user=request.user,
        )
    except ReplayRefused as exc:
        messages.error(request, f"The replay was not started. {exc}")
        return redirect(_section_url(model.id))
    messages.success(
        request,
        f"Replaying {model} on {form.cleaned_data['start']:%-d %b %Y} to "
        f"{form.cleaned_data['end']:%-d %b %Y}: the figures appear below when done.",
    )
    return redirect(_section_url(model.id))


@never_cache
@require_safe
@marketing_access(edit=True, refusal=REFUSAL)
def replay_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The section's replay part, polled while a replay runs."""
    model = _model_or_404(pk)
    return render(
        request,
        "scoring/partials/replay_result.html",
        {"model": model, "replay": replay_latest(model)},
    )
