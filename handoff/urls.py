from django.urls import path

from handoff import views

app_name = "handoff"
urlpatterns = [
    # SDR: the SAL queue and a handoff's page.
    path("queue/", views.queue, name="queue"),
    path("queue/rows/", views.queue_rows, name="queue_rows"),
    path("handoffs/<int:handoff_id>/", views.handoff_detail, name="detail"),
    path("handoffs/<int:handoff_id>/accept/", views.accept, name="accept"),
    path("handoffs/<int:handoff_id>/claim/", views.claim, name="claim"),
    path("handoffs/<int:handoff_id>/reject/", views.reject, name="reject"),
    path("handoffs/<int:handoff_id>/attempts/", views.attempt_add, name="attempt_add"),
    # The queue row's forms, fetched when the row opens them.
    path(
        "handoffs/<int:handoff_id>/accept/form/",
        views.accept_form,
        name="accept_form",
    ),
    path(
        "handoffs/<int:handoff_id>/reject/form/",
        views.reject_form,
        name="reject_form",
    ),
    path(
        "handoffs/<int:handoff_id>/attempts/form/",
        views.attempt_form,
        name="attempt_form",
    ),
    path("availability/", views.availability, name="availability"),
    # Sales rep: accepted leads and their moves.
    path("pipeline/", views.pipeline, name="pipeline"),
    path("pipeline/leads/<int:lead_id>/move/", views.sales_move, name="sales_move"),
    path("pipeline/stages/<str:stage>/", views.pipeline_column, name="pipeline_column"),
    # A pipeline card's forms, fetched when the card opens them.
    path(
        "pipeline/leads/<int:lead_id>/forms/<str:form>/",
        views.pipeline_form,
        name="pipeline_form",
    ),
    # Managers: every rep's pipeline, and handing a lead to another rep.
    path("pipeline/team/", views.pipeline_team, name="pipeline_team"),
    path(
        "pipeline/team/stages/<str:stage>/",
        views.pipeline_team_column,
        name="pipeline_team_column",
    ),
    path("pipeline/leads/<int:lead_id>/reassign/", views.reassign, name="reassign"),
    path(
        "pipeline/leads/<int:lead_id>/reassign/form/",
        views.reassign_form,
        name="reassign_form",
    ),
    # Managers: SLA compliance, speed to lead, volume commitment.
    path("reports/sla/", views.sla_report, name="report"),
]
