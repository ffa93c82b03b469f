"""The admin's forms: a ``TrustedIssuer`` row, and a token to check."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError

from django_bearer_guard.conf import get_settings
from django_bearer_guard.issuers.config import covers
from django_bearer_guard.models import TrustedIssuer

if TYPE_CHECKING:
    _ModelForm = forms.ModelForm[TrustedIssuer]
else:
    _ModelForm = forms.ModelForm

__all__ = ["TokenCheckForm", "TrustedIssuerForm"]

# Condensed from docs/settings.rst ("Issuer entries"), which has the full rules.
HELP_TEXTS = {
    "name": "A label for logs, signals and the admin; empty: the issuer.",
    "issuer": "The exact 'iss' of the tokens, compared byte for byte (mind the trailing slash).",
    "enabled": "Unticked: the row is kept but its tokens are refused.",
    "jwks_uri": "The https:// URL of the issuer's public keys. Set exactly one key source: this, "
    "discovery or an inline JWKS.",
    "discovery": "Find the jwks_uri in the issuer's OpenID Connect or RFC 8414 metadata, whose 'issuer' "
    "must equal this one exactly.",
    "jwks_hosts": 'With discovery only: the hosts a discovered jwks_uri may name, e.g. ["www.googleapis.com"]; '
    "empty: any public host.",
    "jwks": 'Inline public JWK Set, {"keys": [...]}, for air-gapped deployments. Refused when weak, mixed, '
    "private or with repeated kid values.",
    "audiences": 'The "aud" values that name this API, e.g. ["https://api.example.com"]. Required: a token '
    "must name one of them.",
    "algorithms": 'The accepted "alg" values, e.g. ["RS256"]: RS*, PS*, ES* or EdDSA ("none" and HS* are '
    "refused for rows).",
    "profile": "An access-token profile: rfc9068 (typ at+jwt, the RFC 9068 claims, workload client_id), "
    "jwt-svid (SPIFFE JWT-SVIDs: sub a workload SPIFFE ID, RS/ES/PS algorithms) or fapi2 (PS256, ES256, EdDSA "
    "and a cnf or dpop binding). A typ, claims or workload claim set below overrides the profile's.",
    "required_typ": 'The JOSE "typ" the tokens must carry, e.g. "at+jwt" (RFC 9068); empty: any, or the '
    "profile's.",
    "required_claims": 'Claims required beyond exp, iss and aud, e.g. ["sub"]; a required string claim must '
    "not be empty. Empty: none, or the profile's.",
    "leeway": "This issuer's clock skew allowance in seconds; empty: the LEEWAY setting.",
    "scope_claim": 'The claim holding the scopes: a space-separated string ("scope") or a list ("scp", '
    '"roles"); a dotted path reaches into objects ("realm_access.roles"). Several claims, separated by '
    'spaces ("scp roles"), unite their scopes.',
    "scope_prefixes": 'Prefix rewrites applied before scopes are compared, longest first, e.g. {"api://orders/": ""}.',
    "allowed_scopes": "The scopes this issuer may grant, others are dropped; empty: any, []: none.",
    "workload_claim": 'The claim naming the calling workload: "sub", "azp" (Entra ID), "client_id" (Cognito)…; '
    'empty: the profile\'s ("client_id" for rfc9068), else "sub".',
    "workload_trust_domains": 'The SPIFFE trust domains this issuer may assert workloads in, e.g. '
    '["prod.example.com"]; empty: any workload.',
    "binding": "What a token must prove about its sender: workload (its workload is the client certificate's "
    "SPIFFE ID), cnf (RFC 8705: the certificate in cnf x5t#S256), dpop (RFC 9449: a DPoP proof of the key in "
    "cnf jkt); empty: none, though a token with cnf is still checked.",
}


class _NullableJSONField(forms.JSONField):
    """A JSON field whose ``null`` (no limit, no inline keys) shows as an empty box, not as ``null``."""

    def prepare_value(self, value: Any) -> Any:
        return "" if value is None else super().prepare_value(value)


_SHORT = {"rows": 2, "cols": 60}
_NULLABLE = ("jwks", "jwks_hosts", "allowed_scopes", "workload_trust_domains")


class TrustedIssuerForm(_ModelForm):
    """A row, checked by ``TrustedIssuer.full_clean()``, and refused when the settings name its issuer too."""

    class Meta:
        model = TrustedIssuer
        fields = "__all__"
        help_texts = HELP_TEXTS
        field_classes = dict.fromkeys(_NULLABLE, _NullableJSONField)
        widgets = {
            **{
                name: forms.Textarea(attrs=_SHORT)
                for name in ("jwks_hosts", "audiences", "algorithms", "required_claims", "scope_prefixes",
                             "allowed_scopes", "workload_trust_domains")
            },
            "jwks": forms.Textarea(attrs={"rows": 8, "cols": 60}),
        }

    def clean(self) -> dict[str, Any]:
        super().clean()
        issuer = self.cleaned_data.get("issuer")
        # A row the settings shadow is never used: whatever is edited here would change nothing.
        configs = get_settings().issuers
        if isinstance(issuer, str) and covers(configs, issuer):
            named = "names" if issuer in {config.issuer for config in configs} else "has a template for"
            raise ValidationError(
                f"BEARER_GUARD['ISSUERS'] {named} {issuer!r} too, and the settings entry wins: this row would be "
                "ignored. Change the settings entry instead, or remove it first.",
                code="shadowed",
            )
        return self.cleaned_data


class _BlankTextarea(forms.Textarea):
    """A textarea that never sends its value back to the browser."""

    def format_value(self, value: Any) -> str | None:
        return None


class TokenCheckForm(forms.Form):
    """A token to check, and optionally the path of a view whose scopes it should meet."""

    token = forms.CharField(
        widget=_BlankTextarea(attrs={"rows": 6, "cols": 80, "autocomplete": "off", "spellcheck": "false"}),
        help_text="A compact JWT. It is checked, then forgotten: never stored, logged or shown again.",
    )
    path = forms.CharField(
        label="API path",
        required=False,
        max_length=2000,
        help_text="Optional: a path of this site, e.g. /api/reports/, to check the scopes its view requires.",
    )

    def clean_path(self) -> str:
        value: str = self.cleaned_data["path"]
        if value and not value.startswith("/"):
            raise ValidationError("Give a path of this site, starting with '/'.", code="relative")
        return value
