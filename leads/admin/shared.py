"""Shared pieces of the leads admin: capped list counts, per-row counts,
owner choices, trimmed related buttons and the cell formats every list uses.

Lists are built for production volumes (1M leads, 20M touchpoints): related
rows are joined (``list_select_related``), per-row counts are correlated
subqueries over indexed foreign keys, the big tables skip the unfiltered total
and count at most ``COUNT_CAP`` rows, and foreign keys to big tables use
autocomplete or raw-id widgets.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import Count, ForeignKey, IntegerField, Model, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.forms import ModelChoiceField
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html

from leads.models import Lead

#: Lists of the big tables count at most this many rows. An exact count(*) over
#: 20M touchpoints takes seconds; 10,000 rows are 100 pages, and past that a
#: person narrows the list with a filter or a search anyway.
COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Paginator that counts at most ``COUNT_CAP`` rows of the filtered list."""

    @cached_property
    def count(self) -> int:
        return self.object_list[:COUNT_CAP].count()


def count_of(model: type[Model], fk: str) -> Coalesce:
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


def dollars(value: Decimal | None) -> str | None:
    """``42000000`` as "$42,000,000"; cents only when there are any."""
    if value is None:
        return None
    return f"${value:,.2f}".removesuffix(".00")


def lead_link(lead: Lead) -> str:
    url = reverse("admin:leads_lead_change", args=[lead.pk])
    return format_html('<a href="{}">{}</a>', url, lead.email)
