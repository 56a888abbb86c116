"""The scoring screens: models, the rule editor of a draft, publishing.

For people who may change scoring models (the Marketing and Admin roles hold
``scoring.change_scoringmodel``). Each view parses the request, calls one
service or selector and renders; refusals of the services
(``ModelNotEditable``, ``ModelNotPublishable``, ``ValidationError``) become a
message on the page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from scoring import previews, selectors, suggestions
from scoring.exceptions import ModelNotEditable, ModelNotPublishable
from scoring.forms import (
    VALUE_HELP,
    ModelSettingsForm,
    ReorderForm,
    RuleForm,
    rule_initial,
)
from scoring.models import PublishPreview, ScoringModel, ScoringRule
from scoring.services import drafts, publishing
from scoring.simulation import GRADES
from scoring.suggestion_forms import SuggestForm
from scoring.templatetags.scoring_tags import preview_text, progress_text

EDIT_PERMISSION = "scoring.change_scoringmodel"


def editor_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Log in first, then hold the permission to change scoring models (else 403)."""
    return login_required(
        permission_required(EDIT_PERMISSION, raise_exception=True)(view)
    )


def _model_or_404(pk: int) -> ScoringModel:
    try:
        return selectors.model_get(model_id=pk)
    except ScoringModel.DoesNotExist:
        raise Http404("No such scoring model.") from None


def _rule_or_404(pk: int, rule_id: int) -> ScoringRule:
    try:
        return selectors.rule_get(model_id=pk, rule_id=rule_id)
    except ScoringRule.DoesNotExist:
        raise Http404("No such rule in this model.") from None


def _detail_url(model_id: int, anchor: str = "") -> str:
    url = reverse("scoring:detail", args=[model_id])
    return f"{url}#{anchor}" if anchor else url


def _refused(request: HttpRequest, model_id: int, exc: Exception) -> HttpResponse:
    messages.error(request, str(exc))
    return redirect(_detail_url(model_id))


@require_GET
@editor_required
def model_list(request: HttpRequest) -> HttpResponse:
    models = selectors.model_list()
    context = {
        "rows": [
            {"model": model, "progress": selectors.model_progress(model)}
            for model in models
        ],
        "active": selectors.model_active(),
        "suggest_form": SuggestForm(),
        "suggestion": selectors.suggestion_latest(),
    }
    return render(request, "scoring/model_list.html", context)


@require_GET
@editor_required
def model_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A published model read-only; a draft with its rule editor."""
    model = _model_or_404(pk)
    context = {
        "model": model,
        "groups": selectors.rule_groups(model),
        "progress": selectors.model_progress(model),
    }
    if model.is_editable:
        start, end = _replay_period()
        context["replay"] = selectors.replay_latest(model)
        context["replay_start"] = start
        context["replay_end"] = end
    return render(request, "scoring/model_detail.html", context)


def _replay_period() -> tuple[dt.date, dt.date]:
    """The replay form's default period: the last 90 days, [today - 90, today)."""
    today = timezone.now().date()
    return today - dt.timedelta(days=90), today


@never_cache
@require_GET
@editor_required
def model_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """The publish rescore's progress, polled by the model page."""
    model = _model_or_404(pk)
    progress = selectors.model_progress(model)
    return JsonResponse(
        {
            "id": model.id,
            "status": model.status,
            **progress.as_json(),
            "text": progress_text(progress),
        }
    )


@require_POST
@editor_required
def model_clone(request: HttpRequest, pk: int) -> HttpResponse:
    model = _model_or_404(pk)
    draft = drafts.model_clone(model=model, actor=request.user)
    messages.success(
        request,
        f"{draft} is a new draft with the rules of {model}. Change it, then "
        "publish it.",
    )
    return redirect(_detail_url(draft.id))


@require_http_methods(["GET", "POST"])
@editor_required
def model_settings(request: HttpRequest, pk: int) -> HttpResponse:
    model = _model_or_404(pk)
    if not model.is_editable:
        return _refused(
            request, model.id, ModelNotEditable(drafts.NOT_EDITABLE_MESSAGE)
        )
    form = ModelSettingsForm(
        request.POST if request.method == "POST" else None,
        initial=ModelSettingsForm.initial_for(model),
    )
    if form.is_valid():
        try:
            drafts.model_update(model=model, actor=request.user, **form.cleaned_data)
        except ModelNotEditable as exc:
            return _refused(request, model.id, exc)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Settings of {model} saved.")
            return redirect(_detail_url(model.id))
    return render(request, "scoring/model_form.html", {"model": model, "form": form})


@require_http_methods(["GET", "POST"])
@editor_required
def rule_add(request: HttpRequest, pk: int) -> HttpResponse:
    model = _model_or_404(pk)
    kind = request.GET.get("kind")
    initial = {"kind": kind if kind in ScoringRule.Kind.values else "fit"}
    return _rule_form_page(request, model, rule=None, initial=initial)


@require_http_methods(["GET", "POST"])
@editor_required
def rule_edit(request: HttpRequest, pk: int, rule_id: int) -> HttpResponse:
    model = _model_or_404(pk)
    rule = _rule_or_404(pk, rule_id)
    return _rule_form_page(request, model, rule=rule, initial=rule_initial(rule))


def _rule_form_page(
    request: HttpRequest,
    model: ScoringModel,
    *,
    rule: ScoringRule | None,
    initial: dict[str, Any],
) -> HttpResponse:
    if not model.is_editable:
        return _refused(
            request, model.id, ModelNotEditable(drafts.NOT_EDITABLE_MESSAGE)
        )
    form = RuleForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        touchpoint_kinds=selectors.touchpoint_kind_choices(),
    )
    if form.is_valid():
        try:
            if rule is None:
                saved = drafts.rule_create(
                    model=model, actor=request.user, **form.cleaned_data
                )
            else:
                saved = drafts.rule_update(
                    rule=rule, actor=request.user, **form.cleaned_data
                )
        except ModelNotEditable as exc:
            return _refused(request, model.id, exc)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            verb = "added" if rule is None else "saved"
            messages.success(request, f"Rule “{saved.label}” {verb}.")
            return redirect(_detail_url(model.id, f"rule-{saved.id}"))
    context = {
        "model": model,
        "rule": rule,
        "form": form,
        "attribute_suggestions": selectors.attribute_suggestions(),
        "data_keys": suggestions.attribute_keys(),
        "kind_descriptions": selectors.KIND_DESCRIPTIONS.items(),
        "value_help": VALUE_HELP,
    }
    return render(request, "scoring/rule_form.html", context)


@require_GET
@editor_required
def attribute_values(request: HttpRequest) -> HttpResponse:
    """The rule form's fragment under the attribute field: the most frequent
    values of the ``attributes.<key>`` it names, each a button that fills the
    value field. Empty for a lead or account field, and for a path that is
    not one top-level key of the data (``attributes.a.b`` tests a nested
    value; the suggestions count top-level keys)."""
    path = request.GET.get("attribute", "").strip()
    key = path.removeprefix(suggestions.PREFIX)
    found = None
    if path.startswith(suggestions.PREFIX) and suggestions.rule_can_test(key):
        found = suggestions.attribute_values(key=key)
    return render(
        request, "scoring/partials/attribute_values.html", {"suggested": found}
    )


@require_http_methods(["GET", "POST"])
@editor_required
def rule_delete(request: HttpRequest, pk: int, rule_id: int) -> HttpResponse:
    """GET asks to confirm; POST deletes."""
    model = _model_or_404(pk)
    rule = _rule_or_404(pk, rule_id)
    if not model.is_editable:
        return _refused(
            request, model.id, ModelNotEditable(drafts.NOT_EDITABLE_MESSAGE)
        )
    if request.method == "POST":
        try:
            drafts.rule_delete(rule=rule, actor=request.user)
        except ModelNotEditable as exc:
            return _refused(request, model.id, exc)
        messages.success(request, f"Rule “{rule.label}” deleted.")
        return redirect(_detail_url(model.id))
    return render(
        request, "scoring/rule_confirm_delete.html", {"model": model, "rule": rule}
    )


@require_POST
@editor_required
def rules_reorder(request: HttpRequest, pk: int) -> HttpResponse:
    """Store the order the up and down buttons post, and go back to the rule."""
    model = _model_or_404(pk)
    form = ReorderForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That order could not be read; reload the page.")
        return redirect(_detail_url(model.id))
    try:
        drafts.rules_reorder(
            model=model, rule_ids=form.cleaned_data["rule_ids"], actor=request.user
        )
    except ModelNotEditable as exc:
        return _refused(request, model.id, exc)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(_detail_url(model.id))
    moved = form.cleaned_data["moved"]
    return redirect(_detail_url(model.id, f"rule-{moved}" if moved else ""))


@never_cache
@require_http_methods(["GET", "POST"])
@editor_required
def model_publish(request: HttpRequest, pk: int) -> HttpResponse:
    """GET shows what publishing would change (counted in the background, see
    scoring.previews; "calculating" until then); POST publishes."""
    model = _model_or_404(pk)
    if request.method == "POST":
        try:
            published = publishing.model_publish(model_id=model.id, actor=request.user)
        except ModelNotPublishable as exc:
            return _refused(request, model.id, exc)
        messages.success(
            request,
            f"{published} is now the active scoring model. Every lead is being "
            "rescored under it.",
        )
        return redirect(_detail_url(published.id))
    if not model.is_editable:
        return _refused(
            request, model.id, ModelNotPublishable("Only a draft can be published.")
        )
    progress = None
    if model.rules_count:
        # Counting every lead takes minutes at scale: the preview is counted
        # in the background, and this page shows how far it has come.
        try:
            preview = previews.publish_preview_get(
                model_id=model.id, actor=request.user
            )
        except ModelNotPublishable as exc:
            return _refused(request, model.id, exc)
        progress = selectors.publish_preview_progress(preview)
    simulation = progress.counts if progress else None
    replay = selectors.replay_latest(model)
    context = {
        "model": model,
        "active": selectors.model_active(),
        "progress": progress,
        "simulation": simulation,
        "replay": replay,
        "grade_rows": [
            {
                "grade": grade,
                "now": simulation["active_grades"][grade],
                "after": simulation["grades"][grade],
                "change": simulation["grades"][grade]
                - simulation["active_grades"][grade],
            }
            for grade in GRADES
        ]
        if simulation
        else [],
    }
    return render(request, "scoring/model_publish.html", context)


@require_POST
@editor_required
def model_publish_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """Publish again a draft whose publish rescore failed (and was undone)."""
    model = _model_or_404(pk)
    try:
        published = publishing.model_publish_retry(
            model_id=model.id, actor=request.user
        )
    except ModelNotPublishable as exc:
        return _refused(request, model.id, exc)
    messages.success(
        request,
        f"{published} is the active scoring model again. Every lead is being "
        "rescored under it.",
    )
    return redirect(_detail_url(published.id))


@never_cache
@require_GET
@editor_required
def publish_preview(request: HttpRequest, pk: int, preview_id: int) -> JsonResponse:
    """How far a publish preview has come, polled by the publish page."""
    try:
        preview = selectors.publish_preview_find(model_id=pk, preview_id=preview_id)
    except PublishPreview.DoesNotExist:
        raise Http404("No such preview of this model.") from None
    progress = selectors.publish_preview_progress(preview)
    return JsonResponse({**progress.as_json(), "text": preview_text(progress)})


@require_POST
@editor_required
def publish_preview_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    """Count afresh what publishing would change (the counts are a snapshot)."""
    model = _model_or_404(pk)
    try:
        previews.publish_preview_get(model_id=model.id, actor=request.user, fresh=True)
    except ModelNotPublishable as exc:
        return _refused(request, model.id, exc)
    return redirect(reverse("scoring:publish", args=[model.id]))
