"""The scoring screens under /scoring/."""

from django.urls import path

from scoring import suggestion_views, views

app_name = "scoring"
urlpatterns = [
    path("", views.model_list, name="list"),
    path("attribute-values/", views.attribute_values, name="attribute_values"),
    path("suggest/", suggestion_views.model_suggest, name="suggest"),
    path("suggest/panel/", suggestion_views.suggestion_panel, name="suggest_panel"),
    path("<int:pk>/", views.model_detail, name="detail"),
    path("<int:pk>/progress/", views.model_progress, name="progress"),
    path("<int:pk>/clone/", views.model_clone, name="clone"),
    path("<int:pk>/settings/", views.model_settings, name="settings"),
    path("<int:pk>/publish/", views.model_publish, name="publish"),
    path("<int:pk>/publish/retry/", views.model_publish_retry, name="publish_retry"),
    path(
        "<int:pk>/publish/preview/",
        views.publish_preview_refresh,
        name="preview_refresh",
    ),
    path(
        "<int:pk>/publish/preview/<int:preview_id>/",
        views.publish_preview,
        name="preview",
    ),
    path("<int:pk>/rules/add/", views.rule_add, name="rule_add"),
    path("<int:pk>/rules/reorder/", views.rules_reorder, name="rules_reorder"),
    path("<int:pk>/rules/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("<int:pk>/rules/<int:rule_id>/delete/", views.rule_delete, name="rule_delete"),
]
