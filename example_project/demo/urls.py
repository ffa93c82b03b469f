from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("api/documents", views.DocumentViewSet)

urlpatterns = [
    path("api/whoami/", views.WhoAmI.as_view(), name="whoami"),
    path("api/admin-only/", views.AdminOnly.as_view(), name="admin-only"),
    path("api/step-up/", views.StepUp.as_view(), name="step-up"),
    path("files/public/<path:path>", views.public_files, name="public-files"),
    path("files/mine/<path:path>", views.workload_files, name="workload-files"),
    *router.urls,
]
