"""The Segment-compatible endpoint, mounted at /segment/v1/ by crm/urls.py."""

from django.urls import re_path

from leads.tracking import views

app_name = "tracking"
urlpatterns = [
    # No trailing slash, as the SDKs post (a slash is tolerated).
    re_path(r"^(?P<path_type>[a-z]{1,10})/?$", views.segment_receive, name="receive"),
]
