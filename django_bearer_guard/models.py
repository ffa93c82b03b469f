"""``TrustedIssuer``: trusted issuers kept in the database, beside ``BEARER_GUARD['ISSUERS']``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models

from django_bearer_guard.conf import get_settings
from django_bearer_guard.exceptions import KeySetError
from django_bearer_guard.issuers.config import IssuerConfig, parse_issuer
from django_bearer_guard.jose.keyset import KeySet

__all__ = ["TrustedIssuer"]


class TrustedIssuer(models.Model):
    """A trusted issuer managed in the database, with the fields of an ``ISSUERS`` entry.

    Rows are validated by the same rules as the settings (:meth:`clean`); a row with a problem,
    or a disabled row, refuses its tokens. An issuer also listed in the settings is ignored
    (the settings win). Shared secrets are never stored in the database.
    """

    name = models.CharField(max_length=200, blank=True, help_text="A label for logs and the admin.")
    issuer = models.CharField(max_length=500, unique=True, help_text="The exact 'iss' of the tokens.")
    jwks_uri = models.CharField(max_length=2000, blank=True, default="", help_text="The https:// JWKS URL.")
    discovery = models.BooleanField(default=False, help_text="Find the JWKS through the issuer's metadata.")
    jwks = models.JSONField(null=True, blank=True, help_text="Inline public JWK Set.")
    audiences = models.JSONField(default=list, blank=True, help_text="The 'aud' values that name this API.")
    algorithms = models.JSONField(default=list, blank=True, help_text='For example ["RS256"].')
    scope_claim = models.CharField(max_length=200, default="scope")
    scope_prefixes = models.JSONField(default=dict, blank=True)
    workload_claim = models.CharField(
        max_length=200, null=True, blank=True, default=None, help_text="Empty: the profile's default, else \"sub\"."
    )
    required_typ = models.CharField(max_length=100, null=True, blank=True, default=None)
    required_claims = models.JSONField(default=list, blank=True)
    leeway = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds; empty: LEEWAY.")
    binding = models.CharField(
        max_length=16,
        null=True,
        blank=True,
        default=None,
        choices=[
            ("workload", "workload (client certificate)"),
            ("cnf", "cnf (RFC 8705 certificate thumbprint)"),
            ("dpop", "dpop (RFC 9449 proof of possession)"),
        ],
    )
    profile = models.CharField(
        max_length=16,
        null=True,
        blank=True,
        default=None,
        choices=[
            (None, "none"),
            ("rfc9068", "rfc9068 (RFC 9068 JWT access tokens)"),
            ("jwt-svid", "jwt-svid (SPIFFE JWT-SVIDs)"),
            ("fapi2", "fapi2 (FAPI 2.0 resource server)"),
        ],
        help_text="Rules an access-token profile sets (docs: Access-token profiles).",
    )
    enabled = models.BooleanField(default=True)
    allowed_scopes = models.JSONField(
        null=True,
        blank=True,
        default=None,
        help_text="Scopes this issuer may grant (others are dropped); null: any, []: none.",
    )
    workload_trust_domains = models.JSONField(
        null=True,
        blank=True,
        default=None,
        help_text="SPIFFE trust domains this issuer may assert workloads in, e.g. [\"prod.example.com\"].",
    )
    jwks_hosts = models.JSONField(
        null=True, blank=True, default=None, help_text="Hosts a discovered jwks_uri may use; null: any public host."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "trusted issuer"
        ordering = ["name", "issuer"]
        permissions = [("check_token", "Can use the token checker")]

    def __str__(self) -> str:
        return self.name or self.issuer

    def as_entry(self) -> dict[str, Any]:
        """The row as an ``ISSUERS`` entry (blank optional strings become ``None``).

        An empty ``required_claims`` list, like a null ``workload_claim``, is ``None``: not set, so
        the profile's default applies.
        """
        return {
            "name": self.name,
            "issuer": self.issuer,
            "jwks_uri": self.jwks_uri or None,
            "discovery": self.discovery,
            "jwks": self.jwks,
            "audiences": self.audiences,
            "algorithms": self.algorithms,
            # Several claims, separated by spaces ("scp roles"), unite their scopes.
            "scope_claim": names if len(names := self.scope_claim.split()) > 1 else self.scope_claim,
            "scope_prefixes": self.scope_prefixes,
            "workload_claim": self.workload_claim,
            "required_typ": self.required_typ or None,
            "required_claims": None if self.required_claims in ([], None) else self.required_claims,
            "leeway": self.leeway,
            "binding": self.binding or None,
            "enabled": self.enabled,
            "allowed_scopes": self.allowed_scopes,
            "workload_trust_domains": self.workload_trust_domains,
            "jwks_hosts": self.jwks_hosts,
            "profile": self.profile or None,
        }

    def _where(self) -> str:
        return "TrustedIssuer" if self.pk is None else f"TrustedIssuer {self.pk} ({self.issuer!r})"

    def to_config(self) -> IssuerConfig:
        """The validated :class:`IssuerConfig` of this row; its ``problems`` say what is wrong."""
        settings = get_settings()
        return parse_issuer(
            self.as_entry(),
            allow_http_loopback=settings.allow_http_loopback,
            where=self._where(),
            transport_source=settings.transport_identity.source,
            templates=False,
        )

    def clean(self) -> None:
        """Apply the ``ISSUERS`` rules to the row; each problem becomes a ``ValidationError``.

        A problem lands on the field named by its issuer key (the fields are named like the
        keys); a problem about the entry as a whole, or about a key the row does not store, is
        a non-field error. An inline ``jwks`` must also parse under the rules of a fetched key
        set, so that a row never holds keys its tokens would be refused with.
        """
        config = self.to_config()
        prefix = self._where() + ": "
        errors: dict[str, list[str]] = {}
        for problem in config.problems:
            field = problem.field if problem.field in _FIELD_NAMES else NON_FIELD_ERRORS
            errors.setdefault(field, []).append(problem.msg.removeprefix(prefix))
        if config.jwks:
            try:
                KeySet.from_jwks(config.jwks, allow_symmetric=False)
            except KeySetError as exc:
                errors.setdefault("jwks", []).append(f"the inline 'jwks' is refused: {exc.reason}.")
        if errors:
            raise ValidationError(errors)


_FIELD_NAMES = frozenset(field.name for field in TrustedIssuer._meta.local_fields)
