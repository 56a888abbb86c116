"""The REST API under /api/v1/: one router for every app's endpoints."""

from csp.decorators import csp_update
from django.urls import include, path
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from crm.api.auth import TokenObtainView
from crm.api.leads import ScoredLeadViewSet
from crm.api.privacy import LeadEraseView, LeadExportView
from crm.api.replays import ModelReplayStartView, ModelReplayView
from crm.api.reports import (
    CampaignReportView,
    FunnelReportView,
    PlanReportView,
    RuleReportView,
)
from handoff.api.views import (
    HandoffViewSet,
    LeadSalesMoveView,
    RejectionReasonViewSet,
)
from leads.api.forms import FormSubmitView
from leads.api.views import TouchpointViewSet
from scoring.api.views import (
    AttributeKeysView,
    AttributeValuesView,
    ModelSuggestionView,
    ScoringModelViewSet,
)

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("leads", ScoredLeadViewSet, basename="lead")
router.register("touchpoints", TouchpointViewSet, basename="touchpoint")
router.register("scoring-models", ScoringModelViewSet, basename="scoring-model")
router.register("handoffs", HandoffViewSet, basename="handoff")
router.register(
    "rejection-reasons", RejectionReasonViewSet, basename="rejection-reason"
)


@method_decorator(
    # Swagger UI's page carries a small inline <style> (drf-spectacular's
    # template) and its stylesheet draws icons from data: URIs.
    csp_update({"style-src": ["'unsafe-inline'"], "img-src": ["data:"]}),
    name="dispatch",
)
class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI; the split view serves its start-up script as a file, so the
    page needs no inline script."""


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("auth/token/", TokenObtainView.as_view(), name="api-token"),
    # Before the router, so these win over its lead routes.
    path("leads/<int:pk>/export/", LeadExportView.as_view(), name="lead-export"),
    path("leads/<int:pk>/erase/", LeadEraseView.as_view(), name="lead-erase"),
    path(
        "leads/<int:pk>/sales-moves/",
        LeadSalesMoveView.as_view(),
        name="lead-sales-moves",
    ),
    path("forms/<slug:form_key>/submit/", FormSubmitView.as_view(), name="form-submit"),
    path(
        "scoring-models/<int:pk>/replay/",
        ModelReplayStartView.as_view(),
        name="scoring-model-replay",
    ),
    path(
        "scoring-models/suggestions/<int:pk>/",
        ModelSuggestionView.as_view(),
        name="scoring-model-suggestion",
    ),
    path(
        "scoring-models/replays/<int:pk>/",
        ModelReplayView.as_view(),
        name="scoring-model-replay-detail",
    ),
    path("reports/funnel/", FunnelReportView.as_view(), name="report-funnel"),
    path("reports/plan/", PlanReportView.as_view(), name="report-plan"),
    path("reports/campaigns/", CampaignReportView.as_view(), name="report-campaigns"),
    path("reports/rules/", RuleReportView.as_view(), name="report-rules"),
    path(
        "scoring/attribute-keys/",
        AttributeKeysView.as_view(),
        name="scoring-attribute-keys",
    ),
    # Any key, dots and slashes included: the view says which a rule can name.
    path(
        "scoring/attribute-keys/<path:key>/values/",
        AttributeValuesView.as_view(),
        name="scoring-attribute-values",
    ),
    path("", include(router.urls)),
]
