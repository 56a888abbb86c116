"""The settings pages' forms: tracking sources and event mappings.

A form reads the input and nothing else; the services check it again (names,
origins, limits) and their field errors come back to the form
(``errors_from``), so a page and the services say the same thing.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from leads.models import TouchpointKind, TrackingSource
from leads.tracking.services import MAX_RETENTION_DAYS

#: The event mapping form's choice for "keep counting, never a touchpoint".
IGNORE = "__ignore__"


class OriginsField(forms.CharField):
    """One origin per line (``https://www.example.com``), as a list."""

    widget = forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})

    def to_python(self, value: object) -> list[str]:  # type: ignore[override]
        text = super().to_python(value)
        return [line.strip() for line in text.splitlines() if line.strip()]


class TrackingSourceForm(forms.Form):
    """A new tracking source, or a source's changes (``kind`` is fixed once made)."""

    name = forms.CharField(
        max_length=120,
        help_text="How the source is listed, e.g. “Marketing site”.",
    )
    kind = forms.ChoiceField(
        choices=TrackingSource.Kind.choices,
        initial=TrackingSource.Kind.SITE,
        widget=forms.RadioSelect,
        help_text="A website gets the snippet to paste; a server sends with "
        "Segment's or RudderStack's SDK.",
    )
    origins = OriginsField(
        label="Allowed origins",
        required=False,
        help_text="One per line, e.g. https://www.example.com: the sites whose "
        "pages may send with this key. A website needs at least one.",
    )
    retention_days = forms.IntegerField(
        label="Keep anonymous history (days)",
        min_value=1,
        max_value=MAX_RETENTION_DAYS,
        initial=180,
        help_text="Visitors never identified are deleted this many days after "
        "their last visit.",
    )

    def __init__(self, *args: object, source: TrackingSource | None = None, **kwargs):
        if source is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": source.name,
                    "kind": source.kind,
                    "origins": "\n".join(source.origins),
                    "retention_days": source.retention_days,
                },
            )
        super().__init__(*args, **kwargs)
        if source is not None:
            # The kind decides how the source is installed: it stays.
            self.fields["kind"].disabled = True

    def errors_from(self, exc: ValidationError) -> None:
        """Show a service's refusal on the form: field errors on their field,
        the rest above the form."""
        add_service_errors(self, exc)


class EventMappingForm(forms.Form):
    """Map an event name to a touchpoint kind, or ignore it, in one step."""

    event = forms.CharField(max_length=200, widget=forms.HiddenInput)
    kind = forms.ChoiceField(label="Counts as")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        kinds = TouchpointKind.objects.filter(is_active=True).order_by("label")
        self.fields["kind"].choices = [
            ("", "Choose a kind…"),
            *((kind.code, kind.label) for kind in kinds),
            (IGNORE, "Ignore (count it, never a touchpoint)"),
        ]

    def kind_code(self) -> str | None:
        """The chosen kind's code; None to ignore the event."""
        kind = self.cleaned_data["kind"]
        return None if kind == IGNORE else kind


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)
