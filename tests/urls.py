from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from tests.testapp import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("whoami/", views.WhoAmI.as_view()),
    path("scoped/", include("tests.testapp.scope_urls")),
]
