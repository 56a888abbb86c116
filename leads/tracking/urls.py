"""The Segment-compatible endpoint, mounted at /segment/v1/ by crm/urls.py:
one route per path the SDKs post to (no trailing slash, as they send)."""

from django.urls import path

from leads.tracking import views

app_name = "tracking"
urlpatterns = [
    path(name, views.SegmentView.as_view(), {"path_type": name}, name=name)
    for name in views.PATHS
]
