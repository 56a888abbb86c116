"""The "Suggest points" form of the scoring models page and its status.

A suggestion reads every lead (minutes at 100,000 leads), so the page
asks a worker for it (``scoring.tasks.suggest_model_task``) and shows how it
went on its next load: running, the draft with its AUCs, or why it was
refused. On the embedded default the task runs before the page reloads.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from scoring.services.suggestions import suggestion_status, suggestion_status_set
from scoring.suggestion import cut_off_time
from scoring.suggestion_forms import SuggestForm
from scoring.tasks import SUGGEST_QUEUE, suggest_model_task
from scoring.views import editor_required

#: A suggestion "running" longer than this was lost (its worker stopped): the
#: form may start another. Above the tasks' hard time limit.
RUNNING_LOST_AFTER = dt.timedelta(minutes=20)


def _lost(status: dict) -> bool:
    started = status.get("started_at")
    return (
        not started
        or timezone.now() - dt.datetime.fromisoformat(started) > RUNNING_LOST_AFTER
    )


@require_POST
@editor_required
def model_suggest(request: HttpRequest) -> HttpResponse:
    form = SuggestForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else field
            messages.error(request, f"{label}: {' '.join(errors)}")
        return redirect("scoring:list")
    status = suggestion_status()
    if status and status.get("state") == "running" and not _lost(status):
        messages.error(
            request,
            "A suggestion is already being fitted; wait for it to finish.",
        )
        return redirect("scoring:list")
    data = form.cleaned_data
    until = cut_off_time(data["until"])
    suggestion_status_set(
        state="running",
        outcome=data["outcome"],
        until=until.isoformat() if until else None,
        started_at=timezone.now().isoformat(),
    )
    suggest_model_task.apply_async(
        args=[
            data["outcome"],
            until.isoformat() if until else None,
            data["name"],
            request.user.id,
        ],
        queue=SUGGEST_QUEUE,
    )
    return redirect("scoring:list")
