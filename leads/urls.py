"""Pages of the leads domain, under /leads/."""

from django.urls import path

from leads import views
from leads.tracking import pages as tracking

app_name = "leads"
urlpatterns = [
    path("import/", views.import_form, name="import"),
    path("import/<int:job_id>/", views.import_detail, name="import_detail"),
    path("import/<int:job_id>/mapping/", views.import_mapping, name="import_mapping"),
    path(
        "import/<int:job_id>/progress/", views.import_progress, name="import_progress"
    ),
    path(
        "import/<int:job_id>/rejected.csv", views.import_rejects, name="import_rejects"
    ),
    path("import/<int:job_id>/rerun/", views.import_rerun, name="import_rerun"),
    path("tracking/", tracking.source_list, name="tracking"),
    path("tracking/new/", tracking.source_new, name="tracking_new"),
    path("tracking/events/", tracking.event_table, name="tracking_events"),
    path(
        "tracking/events/<int:mapping_id>/remove/",
        tracking.event_mapping_remove,
        name="tracking_mapping_remove",
    ),
    path("tracking/<int:source_id>/", tracking.source_detail, name="tracking_source"),
    path(
        "tracking/<int:source_id>/edit/",
        tracking.source_edit,
        name="tracking_source_edit",
    ),
    path(
        "tracking/<int:source_id>/rotate/",
        tracking.source_rotate,
        name="tracking_source_rotate",
    ),
    path(
        "tracking/<int:source_id>/active/",
        tracking.source_activate,
        name="tracking_source_active",
    ),
]
