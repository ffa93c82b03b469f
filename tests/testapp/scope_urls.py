from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from tests.testapp import scope_views

router = SimpleRouter()
router.register("documents", scope_views.DocumentViewSet, basename="document")
router.register("scoped-documents", scope_views.ScopedDocumentViewSet, basename="scoped-document")

urlpatterns = [
    path("reports/", scope_views.ReportView.as_view()),
    path("workload/", scope_views.WorkloadView.as_view()),
    path("owned/<int:pk>/", scope_views.OwnedDocumentView.as_view()),
    path("tenant/<int:pk>/", scope_views.TenantDocumentView.as_view()),
    path("file-info/", scope_views.file_info),
    path("issuer-owned/<int:pk>/", scope_views.IssuerOwnedDocumentView.as_view()),
    path("local-reports/", scope_views.LocalReportView.as_view()),
    path("local-workload/", scope_views.LocalWorkloadView.as_view()),
    path("user/", scope_views.WhoIsUser.as_view()),
    path("local-composed/", scope_views.LocalComposedView.as_view()),
    path("local-authenticated/", scope_views.LocalAuthenticatedView.as_view()),
    path("misconfigured-owner/<int:pk>/", scope_views.MisconfiguredOwnerView.as_view()),
    *router.urls,
]
