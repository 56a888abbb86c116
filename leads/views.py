"""Pages of the leads domain: CSV import of leads and touchpoints.

Thin views: each checks the permissions, validates a form, calls one service or
selector of ``leads.imports`` and renders or redirects.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import PurePath
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leads.exceptions import ImportFileError
from leads.imports import jobs, selectors
from leads.imports.forms import ImportMappingForm, ImportUploadForm
from leads.imports.presets import PRESETS, mapping_suggest
from leads.imports.selectors import ColumnSample
from leads.models import ImportJob

#: Importing creates and changes leads and stores touchpoints. The Marketing
#: and Admin roles hold these permissions (crm/roles.py); checking them, not
#: the role names, keeps this app free of imports from ``crm``.
IMPORT_PERMISSIONS = ("leads.add_lead", "leads.change_lead", "leads.add_touchpoint")


def import_permission_required(
    view: Callable[..., HttpResponse],
) -> Callable[..., HttpResponse]:
    """Log in first, then require IMPORT_PERMISSIONS (403 otherwise)."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.has_perms(IMPORT_PERMISSIONS):
            raise PermissionDenied(
                "Importing is for people who may add leads and touchpoints (the "
                "Marketing role)."
            )
        return view(request, *args, **kwargs)

    return wrapper


def _job_or_404(job_id: int) -> ImportJob:
    try:
        return selectors.import_job_get(job_id=job_id)
    except ImportJob.DoesNotExist:
        raise Http404("No such import.") from None


@import_permission_required
@require_http_methods(["GET", "POST"])
def import_form(request: HttpRequest) -> HttpResponse:
    """Upload a CSV file (then map its columns); the recent imports below."""
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = jobs.import_job_upload(
                kind=data["kind"],
                filename=data["file"].name,
                content=data["file"].read(),
                encoding=data["encoding"],
                time_zone=data["time_zone"],
                preset=data["preset"],
                dry_run=data["dry_run"],
                created_by=request.user,
            )
        except ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("leads:import_mapping", job_id=job.id)
    context = {"form": form, "jobs": selectors.import_job_list_recent(limit=20)}
    return render(request, "leads/import_form.html", context)


def _mapping_initial(
    request: HttpRequest, job: ImportJob, columns: list[ColumnSample]
) -> dict[str, Any]:
    """The mapping form's values: the job's, or a preset's after "Apply preset"."""
    if "apply_preset" not in request.POST:
        return {
            "preset": job.preset,
            "keep_unmapped": job.keep_unmapped,
            "dry_run": job.dry_run,
            **ImportMappingForm.initial_for(job.mapping, columns),
        }
    preset = request.POST.get("preset", "")
    preset = preset if preset in PRESETS else job.preset
    suggested = mapping_suggest(job.columns, kind=job.kind, preset=preset)
    return {
        "preset": preset,
        "keep_unmapped": "keep_unmapped" in request.POST,
        "dry_run": "dry_run" in request.POST,
        **ImportMappingForm.initial_for(suggested, columns),
    }


@import_permission_required
@require_http_methods(["GET", "POST"])
def import_mapping(request: HttpRequest, job_id: int) -> HttpResponse:
    """Map each CSV column to a field (prefilled by the preset) and start."""
    job = _job_or_404(job_id)
    if job.status != ImportJob.Status.DRAFT:
        return redirect("leads:import_detail", job_id=job.id)
    try:
        columns = selectors.import_job_samples(job_id=job.id)
    except ImportFileError as exc:
        jobs.import_draft_fail(job_id=job.id, error=str(exc))
        return redirect("leads:import_detail", job_id=job.id)
    if request.method == "POST" and "apply_preset" not in request.POST:
        form = ImportMappingForm(request.POST, columns=columns, kind=job.kind)
        if form.is_valid():
            try:
                jobs.import_job_start(
                    job_id=job.id,
                    mapping=form.mapping(),
                    preset=form.cleaned_data["preset"],
                    keep_unmapped=form.cleaned_data["keep_unmapped"],
                    dry_run=form.cleaned_data["dry_run"],
                )
            except ImportFileError as exc:
                form.add_error(None, str(exc))
            else:
                return redirect("leads:import_detail", job_id=job.id)
    else:
        initial = _mapping_initial(request, job, columns)
        form = ImportMappingForm(initial=initial, columns=columns, kind=job.kind)
    return render(request, "leads/import_mapping.html", {"job": job, "form": form})


@import_permission_required
@require_GET
def import_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    """The job: progress (refreshing itself), counts, notes and rejected rows."""
    job = _job_or_404(job_id)
    if job.status == ImportJob.Status.DRAFT:
        return redirect("leads:import_mapping", job_id=job.id)
    context = {
        "job": job,
        "rejects": job.rejected_rows[: selectors.SHOWN_ROWS],
        "notes": job.notes[: selectors.SHOWN_ROWS],
        "shown_rows": selectors.SHOWN_ROWS,
    }
    return render(request, "leads/import_detail.html", context)


@never_cache
@import_permission_required
@require_GET
def import_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    """The progress fragment the job page polls every second."""
    job = _job_or_404(job_id)
    return render(request, "leads/partials/import_progress.html", {"job": job})


@import_permission_required
@require_GET
def import_rejects(request: HttpRequest, job_id: int) -> HttpResponse:
    """The rejected rows as CSV (line, reason, the file's columns)."""
    job = _job_or_404(job_id)
    filename = f"{PurePath(job.filename).stem or 'import'}-rejected.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=filename
    )
    # A byte order mark makes Excel read the file as UTF-8; imports accept it.
    response.write("\ufeff")
    selectors.import_job_rejects_write(job, response)
    return response


@import_permission_required
@require_POST
def import_rerun(request: HttpRequest, job_id: int) -> HttpResponse:
    """Import for real what a finished job (usually a dry run) checked."""
    try:
        job = jobs.import_job_rerun(job_id=job_id, created_by=request.user)
    except ImportJob.DoesNotExist:
        raise Http404("No such import.") from None
    except ImportFileError as exc:
        messages.error(request, str(exc))
        return redirect("leads:import_detail", job_id=job_id)
    messages.success(
        request, "A new job imports the file for real; the dry run stays listed."
    )
    return redirect("leads:import_detail", job_id=job.id)
