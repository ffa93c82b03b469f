"""The step-up views, routed for the end-to-end and attack tests."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from tests.testapp import stepup_views

router = SimpleRouter()
router.register("things", stepup_views.SilverViewSet, basename="stepup-thing")

urlpatterns = [
    path("silver/", stepup_views.SilverView.as_view()),
    path("recent/", stepup_views.RecentView.as_view()),
    path("gold-or-silver-recent/", stepup_views.GoldOrSilverRecentView.as_view()),
    path("delete-needs-gold/", stepup_views.DeleteNeedsGoldView.as_view()),
    path("only-get/", stepup_views.OnlyGetDeclaredView.as_view()),
    path("post-needs-gold/", stepup_views.PostNeedsGoldView.as_view()),
    path("undeclared/", stepup_views.UndeclaredView.as_view()),
    path("misdeclared/", stepup_views.MisdeclaredView.as_view()),
    path("scopes-and-level/", stepup_views.ScopesAndLevelView.as_view()),
    path("scopes-and-level-operator/", stepup_views.ScopesAndLevelOperatorView.as_view()),
    path("scopes-or-level/", stepup_views.ScopesOrLevelView.as_view()),
    path("local-silver/", stepup_views.LocalSilverView.as_view()),
    path("by-initkwargs/", stepup_views.RecentView.as_view(max_auth_age=60)),
    *router.urls,
]
