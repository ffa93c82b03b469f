from __future__ import annotations

import threading
from collections.abc import Iterable

import pytest

from django_bearer_guard.exceptions import UntrustedIssuer
from django_bearer_guard.issuers.config import IssuerConfig
from django_bearer_guard.issuers.registry import IssuerRegistry

SETTINGS_ISSUER = IssuerConfig(issuer="https://settings.example/", name="settings")


class Rows:
    """A source whose issuers change when the test says so, counting its polls."""

    def __init__(self, *configs: IssuerConfig) -> None:
        self.configs = configs
        self.polls = 0
        self.registry: IssuerRegistry | None = None

    def issuers(self) -> Iterable[IssuerConfig]:
        return self.configs

    def poll(self) -> None:
        self.polls += 1

    def change(self, *configs: IssuerConfig) -> None:
        self.configs = configs
        assert self.registry is not None
        self.registry.clear()


def registry_with(rows: Rows) -> IssuerRegistry:
    rows.registry = IssuerRegistry([SETTINGS_ISSUER], [rows])
    return rows.registry


def test_get_finds_an_issuer_of_a_source_by_its_exact_iss() -> None:
    row = IssuerConfig(issuer="https://row.example/")
    registry = registry_with(Rows(row))
    assert registry.get("https://row.example/") is row
    with pytest.raises(UntrustedIssuer):
        registry.get("https://row.example")


def test_settings_win_over_a_source_naming_the_same_issuer() -> None:
    shadow = IssuerConfig(issuer=SETTINGS_ISSUER.issuer, name="row")
    registry = registry_with(Rows(shadow))
    assert registry.get(SETTINGS_ISSUER.issuer) is SETTINGS_ISSUER
    assert registry.all_issuers() == (SETTINGS_ISSUER,)


def test_get_polls_the_sources_only_for_issuers_the_settings_do_not_name() -> None:
    rows = Rows()
    registry = registry_with(rows)
    registry.get(SETTINGS_ISSUER.issuer)
    assert rows.polls == 0
    with pytest.raises(UntrustedIssuer):
        registry.get("https://unknown.example/")
    assert rows.polls == 1


def test_get_refuses_a_disabled_issuer() -> None:
    registry = registry_with(Rows(IssuerConfig(issuer="https://row.example/", enabled=False)))
    with pytest.raises(UntrustedIssuer):
        registry.get("https://row.example/")
    assert [config.issuer for config in registry.all_issuers()] == [SETTINGS_ISSUER.issuer, "https://row.example/"]


def test_clear_makes_the_next_lookup_see_the_changed_source() -> None:
    rows = Rows()
    registry = registry_with(rows)
    with pytest.raises(UntrustedIssuer):
        registry.get("https://row.example/")
    added = IssuerConfig(issuer="https://row.example/")
    rows.change(added)
    assert registry.get("https://row.example/") is added


def test_index_built_from_a_source_read_before_a_clear_is_not_kept() -> None:
    # A lookup that read the source, then lost the race to a change, must not pin the old rows.
    reading, changed = threading.Event(), threading.Event()
    added = IssuerConfig(issuer="https://row.example/")

    class SlowRows(Rows):
        def issuers(self) -> Iterable[IssuerConfig]:
            configs = self.configs
            if threading.current_thread() is not threading.main_thread() and not reading.is_set():
                reading.set()
                assert changed.wait(10)
            return configs

    rows = SlowRows()
    registry = registry_with(rows)
    results: list[BaseException | IssuerConfig] = []

    def look_up() -> None:
        try:
            results.append(registry.get("https://row.example/"))
        except UntrustedIssuer as exc:
            results.append(exc)

    early = threading.Thread(target=look_up)
    early.start()
    assert reading.wait(10)
    rows.change(added)
    changed.set()
    early.join(10)
    assert results == [added]  # its second look, after the poll, builds from the changed source
    assert registry.get("https://row.example/") is added
