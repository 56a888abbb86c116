"""Website tracking's settings pages, for Marketing and Admin: the sources
(sites carrying the snippet, servers sending with Segment's or RudderStack's
SDKs) with their keys and install instructions, and the table of event names
and the touchpoint kinds they count as.

Thin views: each checks ``leads.manage_tracking``, validates a form, calls one
service or selector of ``leads.tracking`` and renders or redirects.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.http import require_http_methods, require_POST

from leads.models import EventMapping, TouchpointKind, TrackingSource
from leads.tracking import install, selectors, services
from leads.tracking.forms import EventMappingForm, TrackingSourceForm

#: Held by the Marketing and Admin roles (crm/roles.py).
MANAGE_TRACKING = "leads.manage_tracking"


def tracking_permission_required(
    view: Callable[..., HttpResponse],
) -> Callable[..., HttpResponse]:
    """Log in first, then require MANAGE_TRACKING (403 otherwise)."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.has_perm(MANAGE_TRACKING):
            raise PermissionDenied(
                "Website tracking is set up by the Marketing role and admins."
            )
        return view(request, *args, **kwargs)

    return wrapper


def _source_or_404(source_id: int) -> TrackingSource:
    source = selectors.sources_with_counts().filter(pk=source_id).first()
    if source is None:
        raise Http404("No such tracking source.")
    return source


@tracking_permission_required
@require_http_methods(["GET", "HEAD"])
def source_list(request: HttpRequest) -> HttpResponse:
    """Every source with its visitors, identified visitors and recent events."""
    return render(
        request,
        "leads/tracking_source_list.html",
        {"sources": selectors.sources_with_counts()},
    )


@tracking_permission_required
@require_http_methods(["GET", "POST"])
def source_new(request: HttpRequest) -> HttpResponse:
    """Create a source; its page then shows how to install it."""
    form = TrackingSourceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            source = services.tracking_source_create(
                name=data["name"],
                kind=data["kind"],
                origins=data["origins"],
                retention_days=data["retention_days"],
                actor=request.user,
            )
        except ValidationError as exc:
            form.errors_from(exc)
        else:
            messages.success(request, f"{source.name} is ready to install.")
            return redirect("leads:tracking_source", source_id=source.id)
    return render(request, "leads/tracking_source_form.html", {"form": form})


@tracking_permission_required
@require_http_methods(["GET", "HEAD"])
def source_detail(request: HttpRequest, source_id: int) -> HttpResponse:
    """A source: its key, how to install it, its origins and figures."""
    source = _source_or_404(source_id)
    base_url = settings.SITE_URL
    now = timezone.now()
    previous_key_valid = bool(
        source.previous_write_key
        and source.previous_key_valid_until
        and source.previous_key_valid_until > now
    )
    return render(
        request,
        "leads/tracking_source_detail.html",
        {
            "source": source,
            "is_site": source.kind == TrackingSource.Kind.SITE,
            "tag": install.snippet_tag(source, base_url),
            "consent_tag": install.snippet_tag(source, base_url, consent_required=True),
            "segment_host": install.segment_host(base_url),
            # analytics-next's Segment.io settings: apiHost has no scheme.
            "api_host": urlsplit(base_url).netloc + install.SEGMENT_PATH + "/v1",
            "api_protocol": urlsplit(base_url).scheme,
            "previous_key_valid": previous_key_valid,
        },
    )


@tracking_permission_required
@require_http_methods(["GET", "POST"])
def source_edit(request: HttpRequest, source_id: int) -> HttpResponse:
    """Change a source's name, origins and retention."""
    source = _source_or_404(source_id)
    form = TrackingSourceForm(request.POST or None, source=source)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.tracking_source_update(
                source=source,
                actor=request.user,
                name=data["name"],
                origins=data["origins"],
                retention_days=data["retention_days"],
            )
        except ValidationError as exc:
            form.errors_from(exc)
        else:
            messages.success(request, "Saved.")
            return redirect("leads:tracking_source", source_id=source.id)
    return render(
        request, "leads/tracking_source_form.html", {"form": form, "source": source}
    )


@tracking_permission_required
@require_http_methods(["GET", "POST"])
def source_rotate(request: HttpRequest, source_id: int) -> HttpResponse:
    """Confirm, then give the source a new write key (the old one works 24 h)."""
    source = _source_or_404(source_id)
    if request.method == "POST":
        source = services.tracking_source_rotate(source=source, actor=request.user)
        until = date_format(
            timezone.localtime(source.previous_key_valid_until), "j M Y, H:i e"
        )
        messages.success(
            request,
            f"New write key made. The old one keeps working until {until}: "
            f"install the new one before then.",
        )
        return redirect("leads:tracking_source", source_id=source.id)
    return render(request, "leads/tracking_source_rotate.html", {"source": source})


@tracking_permission_required
@require_POST
def source_activate(request: HttpRequest, source_id: int) -> HttpResponse:
    """Deactivate a source (its keys are refused) or activate it again."""
    source = _source_or_404(source_id)
    active = request.POST.get("active") == "true"
    services.tracking_source_update(source=source, actor=request.user, is_active=active)
    messages.success(
        request,
        f"{source.name} is active again."
        if active
        else f"{source.name} is deactivated: what it sends is refused.",
    )
    return redirect("leads:tracking_source", source_id=source.id)


@tracking_permission_required
@require_http_methods(["GET", "POST"])
def event_table(request: HttpRequest) -> HttpResponse:
    """Event names and the kinds they count as, unmapped first; map or
    ignore one in one step."""
    form = EventMappingForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            event = form.cleaned_data["event"]
            kind = form.kind_code()
            try:
                converted = services.event_mapping_set(
                    event=event, kind=kind, actor=request.user
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, _mapped_message(event, kind, converted))
                return redirect(reverse("leads:tracking_events") + "#events")
        else:
            messages.error(request, "Choose what the event counts as, then save.")
        return redirect(reverse("leads:tracking_events") + "#events")
    return render(
        request,
        "leads/tracking_events.html",
        {"rows": selectors.event_table(), "form": form},
    )


@tracking_permission_required
@require_POST
def event_mapping_remove(request: HttpRequest, mapping_id: int) -> HttpResponse:
    """Drop a mapping: the name counts by the kinds' own names again."""
    mapping = EventMapping.objects.filter(pk=mapping_id).first()
    if mapping is None:
        raise Http404("No such event mapping.")
    services.event_mapping_delete(mapping=mapping, actor=request.user)
    messages.success(request, f"“{mapping.event}” is no longer mapped.")
    return redirect(reverse("leads:tracking_events") + "#events")


def _mapped_message(event: str, kind: str | None, converted: int) -> str:
    if kind is None:
        return f"“{event}” is ignored from now on: counted, never a touchpoint."
    label = (
        TouchpointKind.objects.filter(code=kind).values_list("label", flat=True).first()
        or kind
    )
    if not converted:
        kept = " No kept event had to change."
    else:
        plural = "s" if converted != 1 else ""
        kept = (
            f" {converted} kept event{plural} converted: those of identified leads "
            f"are touchpoints now, anonymous visitors' ones become touchpoints "
            f"when they are identified."
        )
    return f"“{event}” now counts as {label}.{kept}"
