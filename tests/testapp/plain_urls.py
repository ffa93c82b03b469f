"""The same resources behind the DRF face and behind ``@bearer_required``, sync and async."""

from __future__ import annotations

from django.urls import path

from django_bearer_guard.decorators import bearer_required
from tests.testapp import plain_views
from tests.testapp.scope_views import ReportView


class LocalOnlyReportView(ReportView):
    allowed_issuers = [plain_views.LOCAL]


urlpatterns = [
    path("drf/reports/", ReportView.as_view()),
    path("drf/local-reports/", LocalOnlyReportView.as_view()),
    path("plain/reports/", plain_views.reports),
    path("plain/async-reports/", plain_views.async_reports),
    path("plain/class-reports/", bearer_required(scopes_by_method=plain_views.REPORT_SCOPES)(
        plain_views.ReportsView.as_view()
    )),
    path("plain/async-class-reports/", bearer_required(scopes=["reports:read"])(
        plain_views.AsyncReportsView.as_view()
    )),
    path("plain/local-reports/", plain_views.local_reports),
    path("plain/whoami/", plain_views.whoami),
    path("plain/async-whoami/", plain_views.async_whoami),
    path("plain/any-token/", plain_views.any_token),
]
