from django.contrib import admin
from django.urls import include, path

from crm import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("crm.api.urls")),
    # Pages without an icon link (the admin) make browsers ask for this.
    path("favicon.ico", views.favicon),
    path("leads/", include("leads.urls")),
    # Segment's HTTP tracking API, for the snippet and Segment/RudderStack SDKs.
    path("segment/v1/", include("leads.tracking.urls")),
    path("scoring/", include("scoring.urls")),
    path("", include("handoff.urls")),
    path("", include("crm.app_urls")),
]
