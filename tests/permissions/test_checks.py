from __future__ import annotations

from django.test import override_settings

from django_bearer_guard.checks import check_authentication_levels, check_scope_declarations


def test_check_scope_declarations_passes_project_urls() -> None:
    assert check_scope_declarations() == []


@override_settings(ROOT_URLCONF="tests.testapp.bad_scope_urls")
def test_check_scope_declarations_reports_each_undeclared_method() -> None:
    messages = [(m.id, m.msg) for m in check_scope_declarations()]
    prefix = "tests.testapp.bad_scope_urls."
    assert messages == [
        (
            "bearer_guard.E020",
            f"{prefix}Undeclared at 'undeclared/' uses HasScopes but declares no valid scopes for GET.",
        ),
        (
            "bearer_guard.E020",
            f"{prefix}PostOnlyDeclared at 'post-only/' uses HasScopes but declares no valid scopes for POST.",
        ),
        (
            "bearer_guard.E021",
            f"{prefix}NoWorkloads at 'no-workloads/' uses AllowedWorkloads "
            "without an allowed_workloads list.",
        ),
        (
            "bearer_guard.E020",
            f"{prefix}PartlyDeclaredViewSet at 'nested/^things/$' "
            "uses HasScopes but declares no valid scopes for POST.",
        ),
    ]


@override_settings(ROOT_URLCONF="tests.testapp.bad_scope_urls")
def test_check_scope_declarations_messages_carry_hint_and_view() -> None:
    message = check_scope_declarations()[0]
    assert message.hint is not None
    assert "required_scopes" in message.hint
    assert message.obj.__name__ == "Undeclared"
    assert message.is_serious()


@override_settings(ROOT_URLCONF="tests.testapp.bad_stepup_urls")
def test_check_authentication_levels_reports_each_misdeclared_view() -> None:
    messages = [(m.id, m.msg) for m in check_authentication_levels()]
    prefix = "tests.testapp.bad_stepup_urls."
    assert messages == [
        (
            "bearer_guard.E032",
            f"{prefix}NoLevel at 'no-level/' uses RequiresAuthenticationLevel but declares no required_acr, "
            "required_acr_by_method or max_auth_age.",
        ),
        (
            "bearer_guard.E031",
            f"{prefix}StringAcr at 'string-acr/' uses RequiresAuthenticationLevel with an invalid declaration: "
            "required_acr must be a non-empty list of acr values, not 'urn:mace:incommon:iap:silver'.",
        ),
        (
            "bearer_guard.E031",
            f"{prefix}ZeroAge at 'zero-age/' uses RequiresAuthenticationLevel with an invalid declaration: "
            "max_auth_age must be a whole number of seconds > 0, not 0.",
        ),
        (
            "bearer_guard.W016",
            f"{prefix}Alternative at 'alternative/' offers RequiresAuthenticationLevel as an alternative ('|'): "
            "a token that passes the other operand skips the step-up requirement.",
        ),
    ]


@override_settings(ROOT_URLCONF="tests.testapp.bad_stepup_urls")
def test_check_authentication_levels_messages_carry_hint_and_view() -> None:
    messages = check_authentication_levels()
    assert [m.obj.__name__ for m in messages] == ["NoLevel", "StringAcr", "ZeroAge", "Alternative"]
    assert all(m.hint and ("max_auth_age" in m.hint or "'&'" in m.hint) for m in messages)
    assert [m.is_serious() for m in messages] == [True, True, True, False]


def test_check_authentication_levels_passes_project_urls() -> None:
    assert check_authentication_levels() == []
