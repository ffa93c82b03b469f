"""The Django admin of ``TrustedIssuer``: rows with their key health, "All issuers", the token checker.

:class:`TrustedIssuerAdmin` is registered on the default admin site; register it on your own
:class:`~django.contrib.admin.AdminSite` with ``my_site.register(TrustedIssuer, TrustedIssuerAdmin)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.handlers.exception import response_for_exception
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.text import capfirst
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters

from django_bearer_guard import _admin_pages, runtime
from django_bearer_guard._admin_forms import TrustedIssuerForm
from django_bearer_guard.issuers.database import issuers_changed
from django_bearer_guard.jwks.health import STATUSES, IssuerHealth
from django_bearer_guard.models import TrustedIssuer

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[TrustedIssuer]
else:
    _ModelAdmin = admin.ModelAdmin

__all__ = ["TrustedIssuerAdmin"]

logger = logging.getLogger("django_bearer_guard")

# The key sources a row can have (a shared secret never lives in the database).
_ROW_SOURCES = ("jwks_uri", "discovery", "inline jwks", "none")
_HEALTH = "_bearer_guard_health"
_LEVELS = {"healthy": messages.SUCCESS, "stale": messages.WARNING, "disabled": messages.WARNING}


def _health(row: TrustedIssuer) -> IssuerHealth:
    """The row's health, computed once per row object (a changelist asks for it in every column)."""
    health: IssuerHealth | None = row.__dict__.get(_HEALTH)
    if health is None:
        health = row.__dict__[_HEALTH] = runtime.health_of_row(row)
    return health


class _HealthFilter(admin.SimpleListFilter):
    """Rows whose health has the chosen value of ``field`` (computed per row: it is not stored)."""

    field = ""
    values: tuple[str, ...] = ()

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(value, capfirst(value)) for value in self.values]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value is None:
            return queryset
        matching: QuerySet[Any] = queryset.filter(
            pk__in=[row.pk for row in queryset if getattr(_health(row), self.field) == value]
        )
        return matching


class _StatusFilter(_HealthFilter):
    """Rows by status (``healthy``, ``stale``, ``failing``…)."""

    title = "status"
    parameter_name = "status"
    field = "status"
    values = STATUSES


class _SourceFilter(_HealthFilter):
    """Rows by key source (``jwks_uri``, ``discovery``, ``inline jwks``)."""

    title = "key source"
    parameter_name = "source"
    field = "source"
    values = _ROW_SOURCES


class TrustedIssuerAdmin(_ModelAdmin):
    """``TrustedIssuer`` rows with their key health, the "All issuers" page and the token checker."""

    form = TrustedIssuerForm
    list_display = ("name", "issuer", "enabled", "key_source", "status", "key_count", "last_success", "last_error")
    list_display_links = ("name", "issuer")
    list_filter = ("enabled", _StatusFilter, _SourceFilter)
    search_fields = ("name", "issuer")
    actions = ("fetch_keys_now", "enable", "disable")
    readonly_fields = ("status_panel", "keys_panel", "history_panel", "created_at", "updated_at")
    fieldsets = (
        ("Identity", {"fields": ("name", "issuer", "enabled")}),
        ("Key source", {"fields": ("jwks_uri", "discovery", "jwks_hosts", "jwks")}),
        (
            "Token rules",
            {"fields": ("profile", "audiences", "algorithms", "required_typ", "required_claims", "leeway")},
        ),
        (
            "Scopes and workload",
            {"fields": ("scope_claim", "scope_prefixes", "allowed_scopes", "workload_claim", "workload_trust_domains")},
        ),
        ("Binding", {"fields": ("binding",)}),
    )

    def get_fieldsets(self, request: HttpRequest, obj: TrustedIssuer | None = None) -> Any:
        if obj is None:
            return self.fieldsets
        health = ("Key health", {"fields": ("status_panel", "keys_panel", "history_panel")})
        dates = ("Record", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)})
        return (health, *self.fieldsets, dates)

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> TrustedIssuer | None:
        row = super().get_object(request, object_id, from_field)
        if row is not None:
            # The panels describe the saved row, not the edits of a form that failed validation.
            _health(row)
        return row

    # The list's columns.

    @admin.display(description="key source")
    def key_source(self, row: TrustedIssuer) -> str:
        return _health(row).source

    @admin.display(description="status")
    def status(self, row: TrustedIssuer) -> str:
        return _health(row).status

    @admin.display(description="keys")
    def key_count(self, row: TrustedIssuer) -> int:
        return len(_health(row).keys)

    @admin.display(description="last success")
    def last_success(self, row: TrustedIssuer) -> str | None:
        return _admin_pages.when(_health(row).last_success_at)

    @admin.display(description="last error")
    def last_error(self, row: TrustedIssuer) -> str | None:
        return _health(row).last_error

    # The change page's panels.

    @admin.display(description="status")
    def status_panel(self, row: TrustedIssuer) -> str:
        return _admin_pages.render_panel("status", _health(row))

    @admin.display(description="keys")
    def keys_panel(self, row: TrustedIssuer) -> str:
        return _admin_pages.render_panel("keys", _health(row))

    @admin.display(description="fetch history")
    def history_panel(self, row: TrustedIssuer) -> str:
        return _admin_pages.render_panel("history", _health(row))

    # Actions.

    @admin.action(description="Fetch keys now", permissions=["change"])
    def fetch_keys_now(self, request: HttpRequest, queryset: QuerySet[TrustedIssuer]) -> None:
        who = request.user.get_username()
        for row in queryset:
            if _health(row).status == "shadowed":
                self.message_user(
                    request,
                    f"{row}: not fetched; BEARER_GUARD['ISSUERS'] names the same issuer and the settings entry wins.",
                    messages.WARNING,
                )
                continue
            health = runtime.fetch_now(row.to_config(), who=who)
            summary = _admin_pages.summary(health)
            self.log_change(request, row, f"Fetched keys now: {summary}")
            self.message_user(request, f"{row}: {summary}", _LEVELS.get(health.status, messages.ERROR))

    @admin.action(description="Enable", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[TrustedIssuer]) -> None:
        self._set_enabled(request, queryset, enabled=True)

    @admin.action(description="Disable", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[TrustedIssuer]) -> None:
        self._set_enabled(request, queryset, enabled=False)

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[TrustedIssuer], *, enabled: bool) -> None:
        word = "enabled" if enabled else "disabled"
        rows = list(queryset.exclude(enabled=enabled))
        if not rows:
            self.message_user(request, f"The selected issuers were already {word}.", messages.INFO)
            return
        TrustedIssuer.objects.filter(pk__in=[row.pk for row in rows]).update(enabled=enabled, updated_at=timezone.now())
        # update() sends no signals: announce the change to every process, once it is committed.
        transaction.on_commit(issuers_changed, using=queryset.db)
        who = request.user.get_username()
        for row in rows:
            # The change message of a change page that ticks or unticks "Enabled".
            self.log_change(request, row, [{"changed": {"fields": ["Enabled"]}}])
            logger.info("bearer_guard: %s %s the trusted issuer %s in the admin", who, word, row.issuer)
        names = ", ".join(map(str, rows))
        self.message_user(request, f"{capfirst(word)} {len(rows)} issuer(s): {names}.", messages.SUCCESS)

    # The extra pages.

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path("all/", self.admin_site.admin_view(self.all_issuers_view), name="{}_{}_all".format(*info)),
            path(
                "check-token/",
                sensitive_post_parameters("token")(_no_store(self.admin_site.admin_view(self.check_token_view))),
                name="{}_{}_check_token".format(*info),
            ),
            *super().get_urls(),
        ]

    def can_check_tokens(self, request: HttpRequest) -> bool:
        """Whether ``request.user`` may use the token checker (permission ``check_token``)."""
        return request.user.has_perm(f"{self.opts.app_label}.check_token")

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = {"can_check_tokens": self.can_check_tokens(request), **(extra_context or {})}
        return super().changelist_view(request, context)

    def _page(self, request: HttpRequest, template: str, title: str, **context: Any) -> TemplateResponse:
        request.current_app = self.admin_site.name
        context.update(self.admin_site.each_context(request), title=title, opts=self.opts)
        context["can_check_tokens"] = self.can_check_tokens(request)
        return TemplateResponse(request, f"admin/django_bearer_guard/{template}", context)

    def all_issuers_view(self, request: HttpRequest) -> HttpResponseBase:
        """Every trusted issuer, from the settings and the database, with its status and keys."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        issuers = [_admin_pages.describe(health) for health in runtime.all_health()]
        return self._page(request, "all_issuers.html", "All issuers", issuers=issuers)

    def check_token_view(self, request: HttpRequest) -> HttpResponseBase:
        """Paste a token, read the validator's verdict step by step; the token is neither kept nor shown."""
        if not self.can_check_tokens(request):
            raise PermissionDenied
        form, verdict = _admin_pages.check_token(request.POST if request.method == "POST" else None)
        return self._page(request, "check_token.html", "Token checker", form=form, verdict=verdict)


def _no_store(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """``view`` with ``Cache-Control: no-store`` on every response, refusals and CSRF failures too.

    ``view`` must check CSRF itself (``AdminSite.admin_view`` does): the middleware's check is
    moved inside, so that its refusal passes through here.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            response = view(request, *args, **kwargs)
        except PermissionDenied as exc:
            response = response_for_exception(request, exc)
        add_never_cache_headers(response)
        return response

    return csrf_exempt(wrapper)


admin.site.register(TrustedIssuer, TrustedIssuerAdmin)
