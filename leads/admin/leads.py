"""Admin of leads: the stage-history and touchpoint inlines, the form that
writes through ``leads.services``, and the bulk move action that moves leads
through ``leads.lifecycle`` (the admin never sets a stage itself).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.timezone import localtime

from leads.admin.read_only import ReadOnlyAdminMixin
from leads.admin.shared import OwnerChoicesMixin, RelatedButtonsMixin
from leads.audit import audit_record
from leads.edit_scope import LEAD_EDITABLE_FIELDS
from leads.exceptions import InvalidStageTransition, LeadAlreadyExists
from leads.forms import LeadAdminForm, LeadMoveForm
from leads.lifecycle import lead_move
from leads.models import AuditEvent, Lead, Stage, StageTransition, Touchpoint
from leads.rescore import leads_mark_for_rescore
from leads.services import lead_create, lead_update

#: Most recent touchpoints shown on a lead's page; older ones are in the
#: touchpoint list, filtered by the lead.
TOUCHPOINT_INLINE_LIMIT = 50

#: Most leads one run of the move action handles. The run is one transaction
#: (with its audit row) that locks each lead it moves, so a run this size
#: takes a few seconds; larger clean-ups belong in a management command.
MOVE_ACTION_LIMIT = 1_000

#: Most per-lead warnings the move action shows before summarising the rest.
MOVE_WARNINGS_SHOWN = 20

#: Fields only ``leads.lifecycle`` writes.
LIFECYCLE_FIELDS: tuple[str, ...] = (
    "stage",
    "highest_stage",
    "stage_changed_at",
    *(f"entered_{stage.value}_at" for stage in Stage),
)


class StageTransitionInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The lead's stage history, newest first (read-only: it is an audit log)."""

    model = StageTransition
    template = "admin/leads/readonly_tabular_inline.html"
    fields = ("at", "from_stage", "to_stage", "actor_name", "reason")
    readonly_fields = fields
    ordering = ("-at", "-id")
    extra = 0
    can_delete = False
    verbose_name = "stage transition"
    verbose_name_plural = "stage history"

    def get_queryset(self, request: HttpRequest) -> QuerySet[StageTransition]:
        return super().get_queryset(request).select_related("actor")

    @admin.display(description="Actor")
    def actor_name(self, obj: StageTransition) -> str:
        return obj.actor_display


class LatestTouchpointsFormSet(BaseInlineFormSet):
    """Only the lead's ``TOUCHPOINT_INLINE_LIMIT`` most recent touchpoints."""

    def get_queryset(self) -> QuerySet[Touchpoint]:
        # Cache the sliced queryset: the formset indexes it once per row.
        if not hasattr(self, "_latest"):
            self._latest = super().get_queryset()[:TOUCHPOINT_INLINE_LIMIT]
        return self._latest


class TouchpointInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The lead's latest touchpoints (read-only: touchpoints are immutable)."""

    model = Touchpoint
    template = "admin/leads/readonly_tabular_inline.html"
    formset = LatestTouchpointsFormSet
    fields = ("occurred_at", "kind", "campaign", "properties")
    readonly_fields = fields
    ordering = ("-occurred_at", "-id")
    extra = 0
    can_delete = False
    verbose_name_plural = f"latest touchpoints (up to {TOUCHPOINT_INLINE_LIMIT})"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Touchpoint]:
        return super().get_queryset(request).select_related("kind", "campaign")


@admin.register(Lead)
class LeadAdmin(RelatedButtonsMixin, OwnerChoicesMixin, admin.ModelAdmin):
    """Leads: created and changed through the services, moved by the lifecycle."""

    form = LeadAdminForm
    related_buttons = {"account": {"add", "view"}, "owner": {"view"}}
    list_display = (
        "email",
        "name",
        "job_title",
        "seniority",
        "stage",
        "account",
        "country",
        "owner",
        "created_at",
    )
    list_filter = (
        "stage",
        "highest_stage",
        "seniority",
        "department",
        "region",
        "source",
        "do_not_email",
        "do_not_call",
        "owner",
    )
    list_select_related = ("account", "owner")
    search_fields = ("email", "first_name", "last_name", "account__name", "job_title")
    search_help_text = "Search by e-mail, first or last name, account or job title."
    date_hierarchy = "created_at"
    show_full_result_count = False
    autocomplete_fields = ("account",)
    actions = ("move_to_stage",)

    @admin.display(description="Name", ordering="last_name")
    def name(self, obj: Lead) -> str:
        return obj.full_name

    @admin.display(description="Stages entered")
    def stage_dates(self, obj: Lead) -> str:
        """When the lead first entered each stage it has reached, in time order."""
        entered = [
            (getattr(obj, f"entered_{stage.value}_at"), stage.label) for stage in Stage
        ]
        reached = sorted((at, label) for at, label in entered if at is not None)
        return format_html_join(
            mark_safe("<br>"),  # nosec B308: a constant tag, no input
            "{}: {}",
            (
                (label, date_format(localtime(at), "DATETIME_FORMAT"))
                for at, label in reached
            ),
        )

    def get_readonly_fields(
        self, request: HttpRequest, obj: Lead | None = None
    ) -> tuple[str, ...]:
        derived = (
            "seniority",
            "region",
            *LIFECYCLE_FIELDS,
            "stage_dates",
            "created_at",
            "updated_at",
        )
        if obj is None:
            return derived
        # lead_update cannot change these (they are not in LEAD_EDITABLE_FIELDS).
        return ("email", "account", *derived)

    def get_fieldsets(
        self, request: HttpRequest, obj: Lead | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        adding = obj is None
        # Derived values are shown once there is something derived to show.
        seniority = (
            "seniority_override" if adding else ("seniority", "seniority_override")
        )
        fieldsets: list[tuple[str, dict[str, Any]]] = [
            (
                "Person",
                {
                    "fields": (
                        "email",
                        ("first_name", "last_name"),
                        "phone",
                        "job_title",
                        seniority,
                        "department",
                    )
                },
            ),
            (
                "Company & fit",
                {
                    "fields": ("account", "country")
                    if adding
                    else ("account", ("country", "region"))
                },
            ),
            (
                "Source & UTM",
                {
                    "fields": (
                        "source",
                        ("utm_source", "utm_medium"),
                        "utm_campaign",
                        ("utm_term", "utm_content"),
                    )
                },
            ),
            (
                "Ownership & consent",
                {"fields": ("owner", ("do_not_email", "do_not_call"))},
            ),
        ]
        if not adding:
            fieldsets.append(
                (
                    "Lifecycle",
                    {
                        "fields": (
                            ("stage", "highest_stage"),
                            "stage_changed_at",
                            "stage_dates",
                            ("created_at", "updated_at"),
                        ),
                        "description": (
                            "Stages change only through the lifecycle: scoring, "
                            "handoffs, or the “Move selected leads” action."
                        ),
                    },
                )
            )
        fieldsets.append(("Attributes", {"fields": ("attributes",)}))
        return fieldsets

    def get_inlines(self, request: HttpRequest, obj: Lead | None) -> list[type]:
        return [] if obj is None else [StageTransitionInline, TouchpointInline]

    def save_model(
        self, request: HttpRequest, obj: Lead, form: LeadAdminForm, change: bool
    ) -> None:
        fields = {
            name: value
            for name, value in form.cleaned_data.items()
            if name in LEAD_EDITABLE_FIELDS
        }
        if change:
            changed = {
                name: fields[name] for name in form.changed_data if name in fields
            }
            if changed:
                lead_update(lead=obj, actor=request.user, **changed)
                # The fit data may have changed; the admin's save is atomic.
                leads_mark_for_rescore([obj.pk], now=timezone.now())
            return
        if not fields.get("department"):
            fields.pop("department", None)  # lead_create derives it from the title
        fields.pop("account", None)  # passed on its own: None means "match by domain"
        lead = lead_create(
            email=form.cleaned_data["email"],
            account=form.cleaned_data.get("account"),
            actor=request.user,
            **fields,
        )
        # The admin goes on with ``obj`` (log entry, redirect): make it the new row.
        obj.pk = lead.pk
        obj.refresh_from_db()
        obj._state.adding = False

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except LeadAlreadyExists as exc:
            # The form checked the address; a concurrent create took it since.
            self.message_user(request, str(exc), messages.ERROR)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    @admin.action(
        description="Move selected leads to nurture or disqualify them",
        permissions=["change"],
    )
    def move_to_stage(
        self, request: HttpRequest, queryset: QuerySet[Lead]
    ) -> HttpResponse | None:
        """Ask for the target stage and a reason, then move each lead.

        Each lead moves through ``lead_move`` (a savepoint each); a lead whose
        stage does not allow the move stays put and is named in a warning with
        the lifecycle's message. The run writes one ``bulk_stage_change``
        audit row with the moved ids, in the same transaction.
        """
        lead_count = queryset.count()
        if lead_count > MOVE_ACTION_LIMIT:
            self.message_user(
                request,
                f"Select at most {MOVE_ACTION_LIMIT} leads at a time "
                f"({lead_count} selected); no lead was moved.",
                messages.ERROR,
            )
            return None
        form = LeadMoveForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            self._move_leads(
                request,
                queryset,
                to_stage=form.cleaned_data["to_stage"],
                reason=form.cleaned_data["reason"],
            )
            return None
        preview = list(queryset.order_by("id")[:20])
        context = {
            **self.admin_site.each_context(request),
            "title": "Move leads out of the funnel",
            "opts": self.opts,
            "adminform": helpers.AdminForm(
                form, [(None, {"fields": ["to_stage", "reason"]})], {}
            ),
            "leads_preview": preview,
            "more_count": lead_count - len(preview),
            "lead_count": lead_count,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/leads/lead_move.html", context)

    def _move_leads(
        self,
        request: HttpRequest,
        queryset: QuerySet[Lead],
        *,
        to_stage: str,
        reason: str,
    ) -> None:
        moved: list[int] = []
        refused: list[str] = []
        # One transaction for the run and its one audit row; each move is a
        # savepoint, so a refused lead rolls back alone.
        with transaction.atomic():
            for lead_id, email in queryset.order_by("id").values_list("id", "email"):
                try:
                    lead_move(
                        lead_id=lead_id,
                        to_stage=to_stage,
                        actor=request.user,
                        reason=reason,
                    )
                except InvalidStageTransition as exc:
                    refused.append(f"Not moved: {email}. {exc}")
                except Lead.DoesNotExist:
                    refused.append(f"Not moved: {email}. It was deleted meanwhile.")
                else:
                    moved.append(lead_id)
            if moved:
                audit_record(
                    actor=request.user,
                    action=AuditEvent.Action.BULK_STAGE_CHANGE,
                    details={
                        "to_stage": to_stage,
                        "lead_ids": moved,
                        "count": len(moved),
                        "refused": len(refused),
                    },
                )
        moved_count = len(moved)
        label = Stage(to_stage).label
        if moved_count:
            noun = "lead" if moved_count == 1 else "leads"
            self.message_user(
                request, f"Moved {moved_count} {noun} to {label}.", messages.SUCCESS
            )
        for message in refused[:MOVE_WARNINGS_SHOWN]:
            self.message_user(request, message, messages.WARNING)
        if len(refused) > MOVE_WARNINGS_SHOWN:
            self.message_user(
                request,
                f"{len(refused) - MOVE_WARNINGS_SHOWN} more leads were not moved.",
                messages.WARNING,
            )
