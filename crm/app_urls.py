from django.urls import path

from crm import (
    campaign_views,
    planner_views,
    replay_views,
    rule_analytics_views,
    views,
)

app_name = "crm"
urlpatterns = [
    path("", views.home, name="home"),
    path("marketing/", views.marketing_home, name="marketing_home"),
    path("leads/", views.lead_list, name="lead_list"),
    path("leads/csv/", views.lead_export, name="lead_export"),
    path("leads/<int:lead_id>/", views.lead_detail, name="lead_detail"),
    path("campaigns/", campaign_views.campaign_list, name="campaign_list"),
    path("campaigns/csv/", campaign_views.campaign_csv, name="campaign_csv"),
    path("campaigns/new/", campaign_views.campaign_new, name="campaign_new"),
    path(
        "campaigns/<int:campaign_id>/",
        campaign_views.campaign_detail,
        name="campaign_detail",
    ),
    path(
        "campaigns/<int:campaign_id>/edit/",
        campaign_views.campaign_edit,
        name="campaign_edit",
    ),
    path(
        "campaigns/<int:campaign_id>/spend/",
        campaign_views.spend_add,
        name="spend_add",
    ),
    path(
        "campaigns/<int:campaign_id>/spend/<int:spend_id>/",
        campaign_views.spend_edit,
        name="spend_edit",
    ),
    path(
        "campaigns/<int:campaign_id>/spend/<int:spend_id>/delete/",
        campaign_views.spend_delete,
        name="spend_delete",
    ),
    path("planner/", planner_views.planner, name="planner"),
    path("scoring/<int:pk>/replay/", replay_views.replay_start, name="replay_start"),
    path(
        "scoring/<int:pk>/replay/panel/",
        replay_views.replay_panel,
        name="replay_panel",
    ),
    path("planner/save/", planner_views.plan_save, name="plan_save"),
    path("planner/<int:plan_id>/", planner_views.plan_detail, name="plan_detail"),
    path(
        "planner/<int:plan_id>/commit/",
        planner_views.plan_commit,
        name="plan_commit",
    ),
    path(
        "planner/<int:plan_id>/delete/",
        planner_views.plan_delete,
        name="plan_delete",
    ),
    path(
        "scoring/analytics/",
        rule_analytics_views.rule_analytics_page,
        name="rule_analytics",
    ),
    path(
        "scoring/analytics/candidates/",
        rule_analytics_views.rule_candidates_fragment,
        name="rule_candidates",
    ),
    path(
        "scoring/analytics/candidates/add/",
        rule_analytics_views.rule_candidate_add,
        name="rule_candidate_add",
    ),
    path("healthz/", views.healthz, name="healthz"),
]
