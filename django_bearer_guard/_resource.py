"""``RESOURCE_METADATA``: what this API says about itself (RFC 9728), parsed.

Only the members an operator knows better than the library are settings; the binding members
are derived from the issuers (:mod:`django_bearer_guard._resource_document`), so the document
never promises a binding the validator does not enforce.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from django_bearer_guard._urls import key_url_problem
from django_bearer_guard.issuers.config import Problem
from django_bearer_guard.jose.algorithms import ALGORITHMS

__all__ = ["WELL_KNOWN", "ResourceMetadata", "parse_resource_metadata"]

WELL_KNOWN = "/.well-known/oauth-protected-resource"
"""RFC 9728 §3: the well-known path of the metadata document."""

# RFC 3986 §2: what a URL may hold unencoded; anything else (a quote, a space) is refused.
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+")
_URL_MEMBERS = ("resource_documentation", "resource_policy_uri", "resource_tos_uri", "jwks_uri")
_LIST_MEMBERS = ("authorization_servers", "scopes_supported", "resource_signing_alg_values_supported")
_MEMBERS = frozenset({"resource", "resource_name", "bearer_methods_supported", *_URL_MEMBERS, *_LIST_MEMBERS})
_DERIVED = frozenset(
    {
        "dpop_bound_access_tokens_required",
        "dpop_signing_alg_values_supported",
        "tls_client_certificate_bound_access_tokens",
    }
)


@dataclass(frozen=True)
class ResourceMetadata:
    """``RESOURCE_METADATA``, validated. A list member left ``None`` is derived when served."""

    resource: str
    resource_name: str | None = None
    resource_documentation: str | None = None
    resource_policy_uri: str | None = None
    resource_tos_uri: str | None = None
    jwks_uri: str | None = None
    authorization_servers: tuple[str, ...] | None = None
    """``None``: the enabled, correctly configured issuers."""
    scopes_supported: tuple[str, ...] | None = None
    """``None``: the scopes the URLconf's views declare, with the keys of ``SCOPE_PERMISSIONS``."""
    resource_signing_alg_values_supported: tuple[str, ...] | None = None

    @property
    def path(self) -> str:
        """The path of :attr:`url`: the well-known path, then the resource's own path (§3.1)."""
        suffix = urlsplit(self.resource).path
        # §3.1: a terminating slash right after the host is removed before the insertion.
        return WELL_KNOWN + ("" if suffix == "/" else suffix)

    @property
    def url(self) -> str:
        """Where the document is served, which every 401 challenge names (§3.1, §5.1)."""
        parts = urlsplit(self.resource)
        return f"{parts.scheme}://{parts.netloc}{self.path}"


def _url_problem(value: object, *, allow_http_loopback: bool) -> str | None:
    problem = key_url_problem(value, allow_http_loopback=allow_http_loopback)
    if problem is not None:
        return problem
    url = str(value)
    if not _URL_CHARACTERS.fullmatch(url):
        return "holds characters a URL may not hold unencoded (percent-encode them)"
    # urlsplit reports an empty query or fragment ("https://h?", "https://h#") as none.
    if "?" in url or "#" in url:
        return "must not have a query or a fragment"
    try:
        # The path is compared with the request's, which Django decodes as UTF-8.
        unquote(url, errors="strict")
    except UnicodeDecodeError:
        return "holds percent-escapes that are not UTF-8"
    return None


def _strings(value: object) -> tuple[str, ...] | None:
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) and item for item in value):
        return tuple(dict.fromkeys(value))
    return None


def _list_problem(name: str, items: tuple[str, ...], *, allow_http_loopback: bool) -> str | None:
    if name == "authorization_servers":
        for item in items:
            problem = _url_problem(item, allow_http_loopback=allow_http_loopback)
            if problem is not None:
                return f"holds {item[:200]!r}, an issuer identifier that {problem}"
    elif name == "scopes_supported":
        if any(not item.isprintable() or " " in item or '"' in item or "\\" in item for item in items):
            return "holds a scope with a space, a quote, a backslash or a control character"
    elif any(item not in ALGORITHMS for item in items):
        return f"may only hold the JWS algorithms {sorted(ALGORITHMS)}"
    return None


def parse_resource_metadata(  # noqa: C901, PLR0912 - one rule a member
    raw: Any, *, allow_http_loopback: bool, problems: list[Problem]
) -> ResourceMetadata | None:
    """Validate ``RESOURCE_METADATA``; ``None`` when it is off or has an error (then nothing names it)."""
    if raw is None:
        return None
    found: list[Problem] = []

    def bad(id_: str, msg: str, hint: str) -> None:
        found.append(Problem(id_, f"RESOURCE_METADATA{msg}", hint))

    if not isinstance(raw, Mapping):
        bad("bearer_guard.E029", " must be None or a dict with 'resource'.", "See the RESOURCE_METADATA reference.")
        problems.extend(found)
        return None
    derived = sorted(set(raw) & _DERIVED)
    if derived:
        bad(
            "bearer_guard.E030",
            f" sets {derived}, which follow from the issuers' 'binding' and 'algorithms'.",
            "Remove them: the document states what the validator enforces.",
        )
    unknown = sorted(str(key) for key in set(raw) - _MEMBERS - _DERIVED)
    if unknown:
        bad("bearer_guard.E030", f" has unknown members {unknown}.", "Remove them or fix their spelling.")

    resource = raw.get("resource")
    problem = _url_problem(resource, allow_http_loopback=allow_http_loopback)
    if problem is not None:
        # §2, §3.3: the identifier clients use to reach the API, an https URL without fragment.
        bad(
            "bearer_guard.E028",
            f"['resource'] {problem}.",
            "Set it to the URL clients use for this API, such as 'https://api.example.com'.",
        )
    values: dict[str, Any] = {}
    name = raw.get("resource_name")
    if name is not None and (not isinstance(name, str) or not name.strip() or not name.isprintable()):
        bad("bearer_guard.E029", "['resource_name'] must be a printable, non-empty string.", "Fix resource_name.")
    values["resource_name"] = name
    for member in _URL_MEMBERS:
        value = raw.get(member)
        problem = None if value is None else _url_problem(value, allow_http_loopback=allow_http_loopback)
        if problem is not None:
            bad("bearer_guard.E029", f"[{member!r}] {problem}.", f"Fix {member}, or remove it.")
        values[member] = value
    for member in _LIST_MEMBERS:
        value = raw.get(member)
        items = None if value is None else _strings(value)
        if value is not None and items is None:
            bad("bearer_guard.E029", f"[{member!r}] must be a list of non-empty strings.", f"Fix {member}.")
        elif items is not None:
            problem = _list_problem(member, items, allow_http_loopback=allow_http_loopback)
            if problem is not None:
                bad("bearer_guard.E029", f"[{member!r}] {problem}.", f"Fix {member}.")
        values[member] = items
    methods = raw.get("bearer_methods_supported", ["header"])
    if methods not in (["header"], ("header",)):
        # RFC 6750 §2: the library reads tokens from the Authorization header only.
        bad(
            "bearer_guard.E029",
            "['bearer_methods_supported'] may only be ['header']: tokens are read from the Authorization header.",
            "Remove bearer_methods_supported.",
        )
    problems.extend(found)
    if found:
        return None
    return ResourceMetadata(resource=str(resource), **values)
