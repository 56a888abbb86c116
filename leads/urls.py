"""Pages of the leads domain, under /leads/."""

from django.urls import path

from leads import views

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
]
