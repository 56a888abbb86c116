"""The "Suggest points" form of the scoring models page and its progress.

A suggestion reads every lead (minutes at 100,000 leads), so the page asks a
worker for it (``scoring.services.suggestions.suggestion_request``) and shows
its ``ModelSuggestion`` row: a progress bar with the stage it is at, polled
every 2 seconds (``suggestion_panel``), then the draft with its AUCs, or
why it failed. One at a time: a second request while one runs is refused
with a message. On the embedded default the task runs before the page
reloads.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from scoring import selectors
from scoring.exceptions import SuggestionRefused, SuggestionRunning
from scoring.services.suggestions import suggestion_request
from scoring.suggestion import cut_off_time
from scoring.suggestion_forms import SuggestForm
from scoring.views import editor_required


def _section_url() -> str:
    return reverse("scoring:list") + "#suggest"


@require_POST
@editor_required
def model_suggest(request: HttpRequest) -> HttpResponse:
    """Queue a suggestion of the posted outcome, cut-off and name; back to the
    page, whose section follows it."""
    form = SuggestForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else field
            messages.error(request, f"{label}: {' '.join(errors)}")
        return redirect(_section_url())
    data = form.cleaned_data
    try:
        suggestion = suggestion_request(
            outcome=data["outcome"],
            until=cut_off_time(data["until"]),
            name=data["name"],
            actor=request.user,
        )
    except (SuggestionRefused, SuggestionRunning) as exc:
        messages.error(request, str(exc))
        return redirect(_section_url())
    messages.success(
        request,
        f"Fitting points for {suggestion.outcome} from the leads created before "
        f"{suggestion.cut_off:%-d %b %Y}: the progress shows below, then a link "
        "to the draft.",
    )
    return redirect(_section_url())


@never_cache
@require_safe
@editor_required
def suggestion_panel(request: HttpRequest) -> HttpResponse:
    """The section, polled while a suggestion runs (its form comes back
    enabled once the suggestion is over)."""
    return render(
        request,
        "scoring/partials/suggest_form.html",
        {"suggestion": selectors.suggestion_latest(), "suggest_form": SuggestForm()},
    )
