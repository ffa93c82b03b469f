"""The docs name every setting, issuer key, system check id and public name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import django_bearer_guard
from django_bearer_guard.conf import DEFAULTS
from django_bearer_guard.issuers.config import ISSUER_KEYS

DOCS = Path(__file__).resolve().parent.parent / "docs"
PACKAGE = Path(django_bearer_guard.__file__).resolve().parent

# The wheel environment runs the tests away from the source tree, without the docs.
pytestmark = pytest.mark.skipif(not DOCS.is_dir(), reason="the docs are not next to the tests")

# The public names of DESIGN.md's table and its plain APIs.
PUBLIC_NAMES = [
    "django_bearer_guard.authentication.BearerTokenAuthentication",
    "django_bearer_guard.permissions.HasScopes",
    "django_bearer_guard.permissions.AllowedWorkloads",
    "django_bearer_guard.throttling.TokenRateThrottle",
    "throttle_rates_by_scope",
    "django_bearer_guard.decorators.bearer_required",
    "django_bearer_guard.contrib.ninja.BearerGuard",
    "django_bearer_guard.contrib.ninja.install",
    "django_bearer_guard.contrib.prometheus",
    "django_bearer_guard.contrib.prometheus.metrics_view",
    "django_bearer_guard.views.ProtectedFileView",
    "django_bearer_guard.models.TrustedIssuer",
    "django_bearer_guard.testing",
    "django_bearer_guard.testing.LocalIssuer",
    "django_bearer_guard.testing.use_clock",
    "django_bearer_guard.tokens.verified.VerifiedToken",
    "django_bearer_guard.jwks.KeySet.from_jwks",
    "django_bearer_guard.tokens.verify_compact",
    "request.auth",
    "request.user",
    "TokenUser",
    "required_scopes",
    "required_scopes_by_method",
    "allowed_workloads",
    "allowed_issuers",
    "owner_issuer_field",
    "token_validated",
    "token_rejected",
    "bearer_guard_dev_issuer",
]


def _docs_text() -> str:
    sources = sorted(DOCS.rglob("*.rst"))
    return "\n".join(path.read_text(encoding="utf-8") for path in sources if "_build" not in path.parts)


def _settings_sections() -> dict[str, str]:
    """Heading (without backquotes) → section text, for every heading of settings.rst."""
    text = (DOCS / "settings.rst").read_text(encoding="utf-8")
    heading = re.compile(r"^``([A-Za-z_]+)``\n([-~])\2+$", re.MULTILINE)
    matches = list(heading.finditer(text))
    sections = {}
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following else len(text)
        sections[match.group(1)] = text[match.end() : end]
    return sections


def _check_ids() -> set[str]:
    ids: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        ids.update(re.findall(r"bearer_guard\.[EW]\d{3}", path.read_text(encoding="utf-8")))
    return ids


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_docs_give_every_setting_a_heading_with_type_and_default(name: str) -> None:
    section = _settings_sections().get(name)
    assert section is not None, f"docs/settings.rst has no heading for {name}"
    assert ":Type:" in section
    assert ":Default:" in section
    assert f".. _setting-{name}:" in (DOCS / "settings.rst").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(ISSUER_KEYS))
def test_docs_give_every_issuer_key_a_heading_with_type_and_default(name: str) -> None:
    section = _settings_sections().get(name)
    assert section is not None, f"docs/settings.rst has no heading for the issuer key {name}"
    assert ":Type:" in section
    assert ":Default:" in section


@pytest.mark.parametrize("parent", ["USER_LOOKUP", "TRANSPORT_IDENTITY"])
def test_docs_describe_every_nested_setting_key(parent: str) -> None:
    section = _settings_sections()[parent]
    defaults = DEFAULTS[parent] or {"claim": "sub", "field": "username", "create": False}
    for key in defaults:
        assert re.search(rf"^``{key}`` \(", section, re.MULTILINE), f"{parent}['{key}'] is undocumented"


def test_check_ids_are_found_in_the_package() -> None:
    # The grep below must see the ids the settings parser emits, or the next test proves nothing.
    assert {"bearer_guard.E001", "bearer_guard.E003", "bearer_guard.E011"} <= _check_ids()


@pytest.mark.parametrize("check_id", sorted(_check_ids()))
def test_docs_list_every_system_check(check_id: str) -> None:
    checks_page = (DOCS / "checks.rst").read_text(encoding="utf-8")
    assert re.search(rf"^``{re.escape(check_id)}``$", checks_page, re.MULTILINE), (
        f"docs/checks.rst does not describe {check_id}"
    )


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_docs_mention_every_public_name(name: str) -> None:
    assert name in _docs_text(), f"the docs never mention {name}"


def test_docs_index_lists_every_page() -> None:
    index = (DOCS / "index.rst").read_text(encoding="utf-8")
    howto = (DOCS / "howto" / "index.rst").read_text(encoding="utf-8")
    for page in DOCS.glob("*.rst"):
        if page.stem != "index":
            assert re.search(rf"^   {page.stem}$", index, re.MULTILINE), f"{page.name} is not in the toctree"
    for page in (DOCS / "howto").glob("*.rst"):
        if page.stem != "index":
            assert re.search(rf"^   {page.stem}$", howto, re.MULTILINE), f"howto/{page.name} is not listed"
