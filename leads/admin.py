"""Django admin of the leads app: accounts, leads, campaigns, touchpoints.

The admin is a thin caller like every other screen: a lead is created and
changed through ``leads.services`` and moved through ``leads.lifecycle``, so
the admin can never set a stage. Touchpoints and stage transitions are
records of what happened and are shown read-only.

Lists are built for production volumes (1M leads, 20M touchpoints): related
rows are joined (``list_select_related``), per-row counts are correlated
subqueries over indexed foreign keys, the big tables skip the unfiltered total
and count at most ``COUNT_CAP`` rows, and foreign keys to big tables use
autocomplete or raw-id widgets.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import (
    Count,
    ForeignKey,
    IntegerField,
    Model,
    OuterRef,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.forms import ModelChoiceField
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.timezone import localtime

from leads.accounts import (
    ACCOUNT_EDITABLE_FIELDS,
    account_delete,
    account_lead_count,
    account_update,
)
from leads.audit import audit_record
from leads.campaigns import CampaignInUse, campaign_delete, campaign_in_use
from leads.edit_scope import LEAD_EDITABLE_FIELDS
from leads.exceptions import InvalidStageTransition, LeadAlreadyExists
from leads.forms import (
    AccountAdminForm,
    CampaignAdminForm,
    LeadAdminForm,
    LeadMoveForm,
    TouchpointAdminForm,
    WebFormAdminForm,
)
from leads.lifecycle import lead_move
from leads.models import (
    Account,
    AuditEvent,
    Campaign,
    Lead,
    Stage,
    StageTransition,
    Touchpoint,
    TouchpointKind,
    WebForm,
)
from leads.rescore import leads_mark_for_rescore
from leads.services import lead_create, lead_update

#: Lists of the big tables count at most this many rows. An exact count(*) over
#: 20M touchpoints takes seconds; 10,000 rows are 100 pages, and past that a
#: person narrows the list with a filter or a search anyway.
COUNT_CAP = 10_000

#: Most recent touchpoints shown on a lead's page; older ones are in the
#: touchpoint list, filtered by the lead.
TOUCHPOINT_INLINE_LIMIT = 50

#: Most leads one run of the move action handles. The run is one transaction
#: (with its audit row) that locks each lead it moves, so a run this size
#: takes a few seconds; larger clean-ups belong in a management command.
MOVE_ACTION_LIMIT = 1_000

#: Most per-lead warnings the move action shows before summarising the rest.
MOVE_WARNINGS_SHOWN = 20

#: The line of an account's delete confirmation that counts the leads it keeps.
DETACHED_LEADS_LABEL = "leads kept, detached from the account and rescored"

#: Fields only ``leads.lifecycle`` writes.
LIFECYCLE_FIELDS: tuple[str, ...] = (
    "stage",
    "highest_stage",
    "stage_changed_at",
    *(f"entered_{stage.value}_at" for stage in Stage),
)


class CappedCountPaginator(Paginator):
    """Paginator that counts at most ``COUNT_CAP`` rows of the filtered list."""

    @cached_property
    def count(self) -> int:
        return self.object_list[:COUNT_CAP].count()


def _count_of(model: type[Model], fk: str) -> Coalesce:
    """A correlated count of ``model`` rows pointing at the outer row via ``fk``.

    Evaluated per listed row through the foreign key's index; a JOIN with
    GROUP BY would aggregate the whole related table before paginating.
    """
    counts = (
        model.objects.filter(**{fk: OuterRef("pk")})
        .order_by()
        .values(fk)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), 0)


class OwnerChoicesMixin:
    """Offer active users, by name, as the owner of a record.

    The owner is a plain select and not an autocomplete or raw-id widget: both
    of those look users up through the user admin, which marketers may not
    open. There are tens of users, not millions, so the select stays small.
    """

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField | None:
        if db_field.name == "owner":
            users = get_user_model().objects.filter(is_active=True)
            kwargs["queryset"] = users.order_by("first_name", "last_name", "username")
            field = super().formfield_for_foreignkey(db_field, request, **kwargs)
            field.label_from_instance = _user_label
            return field
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class RelatedButtonsMixin:
    """Trim the add/change/delete buttons beside foreign-key widgets.

    ``related_buttons`` maps a field to the buttons it keeps (``add``,
    ``change``, ``delete``, ``view``); deleting an account or a user from a
    lead's form is never what the person meant.
    """

    related_buttons: dict[str, set[str]] = {}

    def formfield_for_dbfield(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> Any:
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        keep = self.related_buttons.get(db_field.name)
        if keep is not None and isinstance(formfield.widget, RelatedFieldWidgetWrapper):
            for button in ("add", "change", "delete", "view"):
                if button not in keep:
                    setattr(formfield.widget, f"can_{button}_related", False)
        return formfield


def _user_label(user: Any) -> str:
    full_name = user.get_full_name()
    return f"{full_name} ({user.username})" if full_name else user.username


def _dollars(value: Decimal | None) -> str | None:
    """``42000000`` as "$42,000,000"; cents only when there are any."""
    if value is None:
        return None
    return f"${value:,.2f}".removesuffix(".00")


def _lead_link(lead: Lead) -> str:
    url = reverse("admin:leads_lead_change", args=[lead.pk])
    return format_html('<a href="{}">{}</a>', url, lead.email)


# Accounts
# ------------------------------------------------------------------------------


class CompanySizeFilter(admin.SimpleListFilter):
    """Employee-count bands, as sales teams segment accounts."""

    title = "company size"
    parameter_name = "size"
    # band -> (lowest, highest) employee count; None is open-ended.
    BANDS: dict[str, tuple[int | None, int | None]] = {
        "1-50": (None, 50),
        "51-200": (51, 200),
        "201-1000": (201, 1000),
        "1001-5000": (1001, 5000),
        "5001+": (5001, None),
    }

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin
    ) -> list[tuple[str, str]]:
        bands = [(band, f"{band} employees") for band in self.BANDS]
        return [*bands, ("unknown", "Unknown")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Account]
    ) -> QuerySet[Account]:
        value = self.value()
        if value == "unknown":
            return queryset.filter(employee_count__isnull=True)
        if value not in self.BANDS:
            return queryset
        lowest, highest = self.BANDS[value]
        if lowest is not None:
            queryset = queryset.filter(employee_count__gte=lowest)
        if highest is not None:
            queryset = queryset.filter(employee_count__lte=highest)
        return queryset


@admin.register(Account)
class AccountAdmin(RelatedButtonsMixin, OwnerChoicesMixin, admin.ModelAdmin):
    form = AccountAdminForm
    related_buttons = {"owner": {"view"}}
    list_display = (
        "name",
        "domain",
        "industry",
        "employee_count",
        "revenue",
        "country",
        "owner",
        "lead_count",
    )
    list_filter = ("industry", "country", CompanySizeFilter, "owner")
    list_select_related = ("owner",)
    search_fields = ("name", "domain")
    show_full_result_count = False
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        ("Company", {"fields": ("name", "domain", "industry", "country")}),
        ("Size", {"fields": ("employee_count", "annual_revenue")}),
        ("Ownership", {"fields": ("owner",)}),
        ("Record", {"fields": (("created_at", "updated_at"),)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Account]:
        return (
            super()
            .get_queryset(request)
            .annotate(lead_count=_count_of(Lead, "account"))
        )

    def save_model(
        self, request: HttpRequest, obj: Account, form: AccountAdminForm, change: bool
    ) -> None:
        """A change goes through ``account_update``: its leads are rescored
        and the edit is audited. A new account has no leads yet."""
        if not change:
            super().save_model(request, obj, form, change)
            return
        changed = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in ACCOUNT_EDITABLE_FIELDS
        }
        if changed:
            account_update(account_id=obj.pk, actor=request.user, **changed)

    @admin.display(description="Annual revenue", ordering="annual_revenue")
    def revenue(self, obj: Account) -> str | None:
        return _dollars(obj.annual_revenue)

    @admin.display(description="Leads", ordering="lead_count")
    def lead_count(self, obj: Account) -> str:
        url = reverse("admin:leads_lead_changelist")
        return format_html(
            '<a href="{}?account__id__exact={}">{}</a>', url, obj.pk, obj.lead_count
        )

    # Deleting goes through ``account_delete``: the leads stay, detached from
    # the account and marked for a rescore, and the deletion is audited.

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(
            objs, request
        )
        detached = sum(account_lead_count(obj.pk) for obj in objs)
        # The confirmation's summary names the leads that stay, so nobody
        # deletes an account believing it is unused.
        model_count[DETACHED_LEADS_LABEL] = detached
        return deleted, model_count, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Account) -> None:
        account_delete(account_id=obj.pk, actor=request.user)

    def delete_queryset(
        self, request: HttpRequest, queryset: QuerySet[Account]
    ) -> None:
        with transaction.atomic():
            for account_id in queryset.order_by("id").values_list("id", flat=True):
                account_delete(account_id=account_id, actor=request.user)


# Leads
# ------------------------------------------------------------------------------


class StageTransitionInline(admin.TabularInline):
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

    def has_add_permission(self, request: HttpRequest, obj: Lead | None = None) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: Lead | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: Lead | None = None
    ) -> bool:
        return False

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


class TouchpointInline(admin.TabularInline):
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

    def has_add_permission(self, request: HttpRequest, obj: Lead | None = None) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: Lead | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: Lead | None = None
    ) -> bool:
        return False


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


# Campaigns and touchpoints
# ------------------------------------------------------------------------------


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignAdminForm
    list_display = (
        "name",
        "channel",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "budget_dollars",
        "starts_on",
        "ends_on",
        "touchpoint_count",
    )
    list_filter = ("channel", "starts_on")
    search_fields = ("name", "utm_source", "utm_medium", "utm_campaign")
    readonly_fields = ("created_at",)
    fieldsets = (
        ("Campaign", {"fields": ("name", "channel")}),
        (
            "UTM keys",
            {
                "fields": ("utm_source", "utm_medium", "utm_campaign"),
                "description": "Touchpoints name their campaign by these keys.",
            },
        ),
        ("Budget and dates", {"fields": ("budget", ("starts_on", "ends_on"))}),
        ("Record", {"fields": ("created_at",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        return (
            super()
            .get_queryset(request)
            .annotate(touchpoint_count=_count_of(Touchpoint, "campaign"))
        )

    @admin.display(description="Budget", ordering="budget")
    def budget_dollars(self, obj: Campaign) -> str | None:
        return _dollars(obj.budget)

    @admin.display(description="Touchpoints", ordering="touchpoint_count")
    def touchpoint_count(self, obj: Campaign) -> str:
        url = reverse("admin:leads_touchpoint_changelist")
        return format_html(
            '<a href="{}?campaign__id__exact={}">{}</a>',
            url,
            obj.pk,
            obj.touchpoint_count,
        )

    # Touchpoints and web forms protect their campaign (``campaign_delete``);
    # the page says so up front instead of listing every touchpoint.

    def delete_view(
        self,
        request: HttpRequest,
        object_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        campaign = self.get_object(request, object_id)
        allowed = campaign is not None and self.has_delete_permission(request, campaign)
        # Django's view answers the rest (a missing campaign, no permission).
        problem = campaign_in_use(campaign) if allowed else ""
        if not problem:
            try:
                return super().delete_view(request, object_id, extra_context)
            except CampaignInUse as exc:  # a touchpoint arrived meanwhile
                problem = " ".join(exc.messages)
        self.message_user(request, problem, messages.ERROR)
        return HttpResponseRedirect(
            reverse("admin:leads_campaign_change", args=[campaign.pk])
        )

    def delete_model(self, request: HttpRequest, obj: Campaign) -> None:
        campaign_delete(campaign_id=obj.pk, actor=request.user)

    def delete_queryset(
        self, request: HttpRequest, queryset: QuerySet[Campaign]
    ) -> None:
        with transaction.atomic():
            for campaign_id in queryset.order_by("id").values_list("id", flat=True):
                campaign_delete(campaign_id=campaign_id, actor=request.user)


class TouchpointSourceFilter(admin.SimpleListFilter):
    """Filter by delivering system without a DISTINCT over every touchpoint."""

    title = "source"
    parameter_name = "source"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin
    ) -> list[tuple[str, str]]:
        return [
            ("api", "API"),
            ("form", "Web forms"),
            ("import", "Import"),
            ("admin", "Admin"),
            ("demo", "Demo data"),
        ]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Touchpoint]
    ) -> QuerySet[Touchpoint]:
        value = self.value()
        if value == "form":
            return queryset.filter(source__startswith="form:")
        if value:
            return queryset.filter(source=value)
        return queryset


@admin.register(Touchpoint)
class TouchpointAdmin(admin.ModelAdmin):
    """Touchpoints are immutable: added and viewed, deleted by superusers only."""

    form = TouchpointAdminForm
    list_display = (
        "occurred_at",
        "kind",
        "lead_email",
        "campaign",
        "source",
        "external_id",
        "received_at",
    )
    list_filter = ("kind", TouchpointSourceFilter, "campaign")
    list_select_related = ("lead", "kind", "campaign")
    # Exact matches only: a substring search would scan 20M rows.
    search_fields = ("lead__email__iexact", "external_id__exact")
    search_help_text = "Search by the lead's exact e-mail or an external id."
    date_hierarchy = "occurred_at"
    raw_id_fields = ("lead",)
    show_full_result_count = False
    paginator = CappedCountPaginator
    # Newest stored first: the primary key serves this order, while sorting
    # 20M rows by occurred_at needs an index the table does not have.
    ordering = ("-id",)
    fields = (
        "lead",
        "kind",
        "occurred_at",
        "campaign",
        "properties",
        "source",
        "external_id",
        "received_at",
    )
    readonly_fields = ("received_at",)

    @admin.display(description="Lead")
    def lead_email(self, obj: Touchpoint) -> str:
        return _lead_link(obj.lead)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"source": "admin", **super().get_changeform_initial_data(request)}

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField | None:
        if db_field.name == "kind":
            kwargs["queryset"] = TouchpointKind.objects.filter(is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(
        self, request: HttpRequest, obj: Touchpoint | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: Touchpoint | None = None
    ) -> bool:
        return request.user.is_active and request.user.is_superuser


@admin.register(TouchpointKind)
class TouchpointKindAdmin(admin.ModelAdmin):
    """The managed list of kinds; a code is public (API) and never changes."""

    list_display = ("code", "label", "is_high_intent", "is_active")
    list_filter = ("is_high_intent", "is_active")
    search_fields = ("code", "label")
    fields = ("code", "label", "description", "is_high_intent", "is_active")

    def get_readonly_fields(
        self, request: HttpRequest, obj: TouchpointKind | None = None
    ) -> tuple[str, ...]:
        return ("code",) if obj is not None else ()

    def has_delete_permission(
        self, request: HttpRequest, obj: TouchpointKind | None = None
    ) -> bool:
        # Touchpoints protect their kind; retire a kind with "active" instead.
        return False


# Stage transitions
# ------------------------------------------------------------------------------


@admin.register(StageTransition)
class StageTransitionAdmin(admin.ModelAdmin):
    """The lifecycle's audit log: viewable, never written from the admin."""

    list_display = (
        "lead_email",
        "from_stage",
        "to_stage",
        "at",
        "actor_name",
        "reason",
    )
    list_display_links = ("at",)
    list_filter = ("to_stage", "from_stage", "system_actor")
    list_select_related = ("lead", "actor")
    search_fields = ("lead__email", "reason")
    date_hierarchy = "at"
    show_full_result_count = False
    paginator = CappedCountPaginator
    # Newest recorded first, served by the primary key (no index leads with "at").
    ordering = ("-id",)
    fields = ("lead", "from_stage", "to_stage", "at", "actor", "system_actor", "reason")

    @admin.display(description="Lead")
    def lead_email(self, obj: StageTransition) -> str:
        return _lead_link(obj.lead)

    @admin.display(description="Actor")
    def actor_name(self, obj: StageTransition) -> str:
        return obj.actor_display

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: StageTransition | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: StageTransition | None = None
    ) -> bool:
        return False


# Web forms and the audit log
# ------------------------------------------------------------------------------


@admin.register(WebForm)
class WebFormAdmin(admin.ModelAdmin):
    """Public web forms: what a submission records and which sites may post it."""

    form = WebFormAdminForm
    list_display = ("name", "key", "kind", "campaign", "is_active")
    list_filter = ("is_active", "kind")
    list_select_related = ("kind", "campaign")
    search_fields = ("name", "key")
    fields = (
        "name",
        "key",
        "kind",
        "campaign",
        "allowed_origins",
        "is_active",
        "endpoint",
        "created_at",
    )

    def get_readonly_fields(
        self, request: HttpRequest, obj: WebForm | None = None
    ) -> tuple[str, ...]:
        # The key is in the marketing site's form URL and in every touchpoint's
        # source ("form:<key>"); changing it would break both.
        if obj is not None:
            return ("key", "endpoint", "created_at")
        return ("endpoint", "created_at")

    @admin.display(description="Submit URL")
    def endpoint(self, obj: WebForm) -> str:
        if obj.pk is None:
            return "-"
        return reverse("form-submit", kwargs={"form_key": obj.key})

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField | None:
        if db_field.name == "kind":
            kwargs["queryset"] = TouchpointKind.objects.filter(is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit log (``leads.audit``): viewable, never written from the admin."""

    list_display = ("at", "action", "actor", "lead_id", "details")
    list_display_links = ("at",)
    list_filter = ("action",)
    list_select_related = ("actor",)
    search_fields = ("=lead_id",)
    search_help_text = "Search by the exact lead id."
    date_hierarchy = "at"
    show_full_result_count = False
    paginator = CappedCountPaginator
    # Newest recorded first, served by the primary key.
    ordering = ("-id",)
    fields = ("at", "action", "actor", "lead_id", "details")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: AuditEvent | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: AuditEvent | None = None
    ) -> bool:
        return False
