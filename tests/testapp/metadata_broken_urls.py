"""The RFC 9728 document beside a view whose permission_classes DRF itself cannot run."""

from __future__ import annotations

from typing import Any

from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_bearer_guard.permissions import HasScopes
from tests.testapp.metadata_other_urls import Profile


class NotAList(APIView):
    permission_classes = HasScopes  # type: ignore[assignment]  # the mistake under test: a class, not a list
    required_scopes = ["never:listed"]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response({"ok": True})


urlpatterns = [
    path("", include("django_bearer_guard.urls")),
    path("not-a-list/", NotAList.as_view()),
    path("profile/", Profile.as_view()),
]
