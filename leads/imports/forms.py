"""Forms of the import pages: they validate input and nothing else."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from leads.exceptions import ImportFileError
from leads.imports.presets import HUBSPOT, PRESET_CHOICES
from leads.imports.reading import encoding_check
from leads.imports.selectors import ColumnSample, import_target_choices
from leads.imports.values import import_time_zone, time_zone_names
from leads.models import IMPORT_MAX_BYTES, ImportJob


def time_zone_choices() -> list[tuple[str, str]]:
    """None (reject such dates) and UTC first, then Region/City by name."""
    zones = sorted(
        name
        for name in time_zone_names()
        if "/" in name and not name.startswith(("Etc/", "SystemV/"))
    )
    return [
        ("", "None: reject dates without an offset"),
        ("UTC", "UTC"),
        *((name, name.replace("_", " ")) for name in zones),
    ]


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(
        choices=ImportJob.Kind.choices,
        initial=ImportJob.Kind.LEADS,
        widget=forms.RadioSelect,
        label="The file holds",
    )
    file = forms.FileField(
        label="CSV file",
        help_text=f"At most {IMPORT_MAX_BYTES // (1024 * 1024)} MB, with a header "
        "row naming the columns.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    preset = forms.ChoiceField(
        choices=PRESET_CHOICES,
        initial=HUBSPOT,
        label="Exported from",
        help_text="Prefills the column mapping; you can change it next.",
    )
    encoding = forms.CharField(
        max_length=40,
        initial="utf-8",
        help_text="utf-8 unless the file says otherwise (Excel on Windows: cp1252).",
    )
    time_zone = forms.ChoiceField(
        choices=lambda: time_zone_choices(),
        required=False,
        label="Time zone of dates without one",
        help_text="HubSpot and Salesforce write dates in the exporting user's "
        "time zone, without saying which. With none chosen, a row whose date "
        "gives no offset is rejected.",
    )
    dry_run = forms.BooleanField(
        required=False,
        label="Dry run: check and classify every row, store nothing",
    )

    def clean_time_zone(self) -> str:
        name = self.cleaned_data["time_zone"]
        try:
            import_time_zone(name)
        except ImportFileError as exc:
            raise forms.ValidationError(str(exc)) from None
        return name

    def clean_encoding(self) -> str:
        encoding = self.cleaned_data["encoding"].strip()
        try:
            encoding_check(encoding)
        except ImportFileError as exc:
            raise forms.ValidationError(str(exc)) from None
        return encoding

    def clean_file(self) -> UploadedFile:
        upload = self.cleaned_data["file"]
        if upload.size > IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                f"The file has {upload.size:,} bytes; split it into files of at most "
                f"{IMPORT_MAX_BYTES // (1024 * 1024)} MB."
            )
        return upload


class ImportMappingForm(forms.Form):
    """One target-field select per CSV column, plus the run options."""

    preset = forms.ChoiceField(choices=PRESET_CHOICES, label="Preset")
    keep_unmapped = forms.BooleanField(
        required=False,
        label="Keep the columns not mapped as free-form attributes "
        "(typed as number, yes/no or text); skipped columns are never stored",
    )
    dry_run = forms.BooleanField(
        required=False,
        label="Dry run: check and classify every row, store nothing",
    )

    def __init__(
        self, *args: Any, columns: list[ColumnSample], kind: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.columns = columns
        if kind == ImportJob.Kind.TOUCHPOINTS:
            self.fields["keep_unmapped"].label = (
                "Keep the columns not mapped as free-form touchpoint properties "
                "(typed as number, yes/no or text); skipped columns are never "
                "stored"
            )
        choices = import_target_choices(kind)
        for sample in columns:
            self.fields[self.field_name(sample.position)] = forms.ChoiceField(
                choices=choices,
                required=False,
                label=sample.column,
                widget=forms.Select(
                    attrs={"aria-label": f"Field for the column {sample.column}"}
                ),
            )

    @staticmethod
    def field_name(position: int) -> str:
        return f"column_{position}"

    @classmethod
    def initial_for(
        cls, mapping: dict[str, str], columns: list[ColumnSample]
    ) -> dict[str, str]:
        return {
            cls.field_name(sample.position): mapping.get(sample.column, "")
            for sample in columns
        }

    def mapping(self) -> dict[str, str]:
        """CSV column -> field ("" unmapped, ``SKIP`` skipped), from the form."""
        return {
            sample.column: self.cleaned_data[self.field_name(sample.position)]
            for sample in self.columns
        }

    def mapping_rows(self) -> list[dict[str, Any]]:
        """Each column with its sample value and bound select, for the table."""
        return [
            {
                "column": sample.column,
                "sample": sample.sample,
                "field": self[self.field_name(sample.position)],
            }
            for sample in self.columns
        ]
